from kmc.commands.entry import main

main()
