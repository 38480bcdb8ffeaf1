from vanta.cli import main

main()
