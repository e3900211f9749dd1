import ResmonDaemon

Daemon.main(arguments: CommandLine.arguments)
