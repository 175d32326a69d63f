// A flags field that several arguments share is or-ed only when each of them
// says so with `|field`.
uring::ops! {
    /// Splices.
    #[since = "5.7"]
    pub unsafe struct MySplice = SPLICE {
        target: fd,
        fixed_in: u32 => |splice_flags,
        user_flags: u32 = 0 => splice_flags,
    }
}

fn main() {}
