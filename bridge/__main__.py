"""`python -m bridge ...`: the same as the `meshes-bridge` command."""

import sys

from bridge.cli import main

sys.exit(main())
