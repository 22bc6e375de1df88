//! `fake-github` binary: serves `World::demo(now)` until SIGTERM/Ctrl-C.

fn main() {}
