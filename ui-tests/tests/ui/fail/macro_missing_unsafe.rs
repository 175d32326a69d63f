// Declaring an op vouches for where its arguments land: it is `unsafe`.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub struct MyRead<'a> = READ {
        target: fd | fixed,
        buf: &'a mut [u8] => addr + len,
    }
}

fn main() {}
