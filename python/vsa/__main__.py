from vsa.cli import main

raise SystemExit(main())
