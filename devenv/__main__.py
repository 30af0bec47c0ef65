from devenv._entry import main

main()
