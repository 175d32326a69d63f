// The table names SQE fields as linux/io_uring.h does; a misspelt one is
// pointed at, with the closest real name.
uring::ops! {
    /// Reads.
    #[since = "5.6"]
    pub unsafe struct MyRead<'a> = READ {
        target: fd | fixed,
        buf: &'a mut [u8] => addr + len,
        offset: u64 = 0 => ofs,
    }
}

fn main() {}
