from feedwatch.cli import main

main()
