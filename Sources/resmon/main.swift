import ResmonCLI

#if canImport(Glibc)
    import Glibc
#endif

// A parent may hand down blocked signals (Foundation's Process does): `resmon events --follow`
// and `watch` must still stop on SIGTERM and SIGINT.
var nothing = sigset_t()
sigemptyset(&nothing)
sigprocmask(SIG_SETMASK, &nothing, nil)
exit(CLI.main(CommandLine.arguments))
