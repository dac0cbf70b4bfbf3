from sagemaker_images.cli import main

raise SystemExit(main())
