"""`python -m meshes_bridge ...`: the same as the `meshes-bridge` command."""

import sys

from meshes_bridge.cli import main

sys.exit(main())
