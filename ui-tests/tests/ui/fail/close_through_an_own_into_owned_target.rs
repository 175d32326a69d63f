// CLOSE destroys what it names, so it takes a file that gives up ownership.
// A program's own `IntoOwnedTarget` could hand over a borrow (here of a
// `File` that stays alive, or of a shared `Fixed`), and the close would
// free the number under its owner: the traits are sealed.
use std::fs::File;
use uring::{Fd, Fixed, IntoOwnedFd, IntoOwnedTarget, Ring, ops::Close};

struct Borrowed(&'static File);

impl IntoOwnedTarget for Borrowed {
    type Target = Fd<'static>;
    fn into_owned_target(self) -> Fd<'static> {
        Fd::from(self.0)
    }
}

impl IntoOwnedFd for Borrowed {
    type Target = Fd<'static>;
    fn into_owned_fd(self) -> Fd<'static> {
        Fd::from(self.0)
    }
}

struct Shared<'f>(Fixed<'f>);

impl<'f> IntoOwnedTarget for Shared<'f> {
    type Target = Fixed<'f>;
    fn into_owned_target(self) -> Fixed<'f> {
        self.0
    }
}

fn main() {
    let mut ring = Ring::new(8).unwrap();
    let file: &'static File = Box::leak(Box::new(File::open("/dev/null").unwrap()));
    let _ = ring.push(Close::new(Borrowed(file)));
}
