"""`python -m ops.boot <stack> <openfoundry checkout>`: see ops/boot/command.py."""

import sys

from ops.boot.command import main

sys.exit(main())
