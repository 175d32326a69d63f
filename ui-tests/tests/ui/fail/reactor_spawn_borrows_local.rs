// A task spawned on the reactor runs from the reactor's loop, after `spawn`
// has returned and possibly after the caller's frame is gone: it cannot
// borrow the caller's locals. Move what it needs into it (`async move`).
use uring::reactor::Reactor;

fn main() {
    let reactor = Reactor::new().unwrap();
    let name = String::from("task");
    reactor.handle().spawn(async {
        let _ = name.len();
    });
    reactor.run().unwrap();
}
