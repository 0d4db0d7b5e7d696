from playhub.cli.main import main

raise SystemExit(main())
