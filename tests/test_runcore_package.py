"""runcore is its own package: importing imagegan needs neither gymnasium nor the text env."""

import subprocess
import sys


def test_imagegan_imports_neither_gymnasium_nor_textgan():
    code = (
        "import sys, imagegan, imagegan.cli, imagegan.trainer, imagegan.evaluate, runcore\n"
        "loaded = sorted(m.split('.')[0] for m in sys.modules if m.split('.')[0] in ('gymnasium', 'textgan'))\n"
        "print(','.join(sorted(set(loaded))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


def test_old_import_paths_reexport_runcore():
    import runcore
    import runcore.errors
    import textgan.core
    import textgan.errors

    assert textgan.core.RunDir is runcore.RunDir
    assert textgan.errors.UserError is runcore.errors.UserError
    assert set(runcore.__all__) <= set(dir(textgan.core))
