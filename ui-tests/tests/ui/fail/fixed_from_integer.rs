// A fixed file comes from the registration handle, never from a number.
use uring::Fixed;

fn main() {
    let _slot = Fixed::from(3u32);
}
