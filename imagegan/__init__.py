"""Image GANs of the seed paper family on the adversarial core shared with textgan.

- :mod:`imagegan.models`: GAN, CGAN, DCGAN, InfoGAN, StackGAN, WGAN, WGAN-GP (one file each;
  each model owns its training step).
- :mod:`imagegan.losses`, :mod:`imagegan.regularizers`: objectives and regularisers as objects.
- :mod:`imagegan.trainer`: batches, logs, grids, checkpoints, resume on ``runcore``.
- :mod:`imagegan.data`, :mod:`imagegan.metrics`: offline datasets; FID/KID and model metrics.
- ``imagegan`` command (:mod:`imagegan.cli`): ``train``, ``sample``, ``eval``.

Importing the package imports nothing heavy and touches no device.
"""
