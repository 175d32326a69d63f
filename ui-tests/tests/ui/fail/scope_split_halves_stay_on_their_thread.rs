// The halves of a split scope share the scope's table: neither may go to
// another thread, where it could use the table while this one does.
use uring::Ring;

fn send<T: Send>(_: T) {}

fn main() {
    let mut ring = Ring::new(8).unwrap();
    ring.scope(|s| {
        let (sq, completions) = s.split();
        send(sq);
        send(completions);
    });
}
