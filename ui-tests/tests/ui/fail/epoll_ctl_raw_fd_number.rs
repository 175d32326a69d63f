// The file an `EpollCtl` adds is borrowed like an op's target: a bare number
// names whatever file holds it when the kernel looks. Pass `&file`, or the
// number through `unsafe { Fd::borrow_raw(n) }`.
use uring::ops::EpollCtl;

fn main() {
    let epoll = std::fs::File::open("/dev/null").unwrap();
    let event = libc::epoll_event { events: 0, u64: 0 };
    let _ctl = EpollCtl::new(&epoll, libc::EPOLL_CTL_ADD, 5, &event);
}
