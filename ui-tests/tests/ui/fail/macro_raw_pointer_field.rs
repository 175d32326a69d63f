// Even in an `unsafe struct`, an argument of a program's own op is a borrow,
// a typed value or an integer: a raw pointer is not an SQE field, since
// nothing would keep what it points to alive while the kernel uses it.
// Take `&'a mut [u8]` (`=> addr + len`).
uring::ops! {
    /// Reads through a raw pointer.
    #[since = "5.6"]
    pub unsafe struct RawRead = READ {
        target: fd | fixed,
        /// Where to read into.
        buf: *mut u8 => addr,
        /// How many bytes.
        len: u32 => len,
    }
}

fn main() {}
