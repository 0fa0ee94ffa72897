"""`python -m ingestion.synthetic`: see ingestion/synthetic/__init__.py."""

import sys

from ingestion.synthetic import main

sys.exit(main())
