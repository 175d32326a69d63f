// Two arguments cannot fill the same SQE field.
uring::ops! {
    /// Writes.
    #[since = "5.6"]
    pub unsafe struct MyWrite<'a> = WRITE {
        target: fd,
        buf: &'a [u8] => addr + len,
        hint: u64 = 0 => addr,
    }
}

fn main() {}
