import sys

from jaxdse.cli import main

sys.exit(main())
