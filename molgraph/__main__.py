"""``python -m molgraph`` and ``torchrun --nproc-per-node N -m molgraph train ...``."""

import sys

from molgraph.cli.main import main

if __name__ == "__main__":  # worker processes re-import this module as __mp_main__
    sys.exit(main())
