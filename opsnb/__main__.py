from opsnb.cli import main

main()
