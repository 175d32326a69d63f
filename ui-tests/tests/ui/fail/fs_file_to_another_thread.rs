// A `uring::fs::File` runs its ops on its reactor, which lives on one
// thread: it cannot move to another. Open the file on the other thread's
// own reactor, or send the `OwnedFd` (`File::close` is not needed for
// that: make the `File` with `from_fd` there).
use uring::fs::File;
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let file = File::from_fd(&reactor.handle(), std::fs::File::open("/dev/null").unwrap());
    std::thread::spawn(move || drop(file)).join().unwrap();
}
