// `AsSocket` promises a socket's descriptor, since a socket command's
// number means something else to another driver: implementing it takes
// `unsafe`.
use std::os::fd::{AsFd, BorrowedFd};
use uring::AsSocket;

struct NotASocket(std::fs::File);

impl AsFd for NotASocket {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.0.as_fd()
    }
}

impl AsSocket for NotASocket {}

fn main() {}
