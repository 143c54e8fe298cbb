"""`python -m sandbox.live.services SERVICE` (author, blog, user or cache-worker)."""

import sys

from sandbox.live.services.run import main

sys.exit(main())
