from tiphub.cli.app import main

main()
