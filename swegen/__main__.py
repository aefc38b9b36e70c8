from swegen.cli import main

main()
