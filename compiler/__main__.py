from kmc.entry import main

main()
