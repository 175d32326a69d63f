//! The op-table macro of the `uring` crate.
//!
//! `ops!` reads a table of io_uring op declarations and generates, for each,
//! a typed builder: the struct with its target and buffer type parameters, a
//! constructor, a setter per optional argument, chain methods, its `CODE`,
//! and the code that writes its SQE in place. It is re-exported as
//! `uring::ops!`, which documents the grammar.
//!
//! The macro works in three steps, one module each: `parse` turns tokens
//! into a `model`, `validate` checks the model against the kernel's SQE (the
//! field map in `sqe`) and reports every problem at its token, and `expand`
//! writes the code.

mod expand;
mod model;
mod parse;
mod sqe;
mod validate;

use proc_macro::TokenStream;

/// Declares io_uring ops from a table.
///
/// ```text
/// uring::ops! {
///     #![list(pub const MY_OPS)]          // optional: a slice of every op's name, code, version
///
///     /// Completes with `result` (a NOP with IORING_NOP_INJECT_RESULT).
///     #[since = "6.10"]
///     pub unsafe struct InjectNop = NOP {  // opcode: a kernel name, a number, or a path
///         result: i32 => len,               // a required argument and the SQE field it fills
///         const nop_flags = uring::sys::IORING_NOP_INJECT_RESULT,
///     }
/// }
/// ```
///
/// Each entry is a doc comment, `#[since = "major.minor"]` (the kernel that
/// added the op), optionally `#[after_link]` (the op only follows a linked
/// op, like LINK_TIMEOUT), `#[retains_memory]` (the kernel keeps using
/// the op's memory after the op completes, like PROVIDE_BUFFERS, so a scope
/// may not lend it) and `#[sqe128]` (the op fills a 128-byte SQE, so only
/// rings of `Sqe128` SQEs take it), then `vis unsafe struct Name<'lifetimes> =
/// OPCODE { .. }`. The entry is `unsafe` because it vouches that each
/// argument lands in the field the kernel reads for that opcode, that every
/// field the kernel dereferences is fed from a borrow the op carries, that
/// every field the kernel reads as a descriptor or a registered slot (`fd`,
/// `file_index`, `splice_fd_in`, ...) is fed from a borrowed descriptor or
/// a slot handle, not a plain number, that no argument carries bits that
/// make the kernel follow addresses found in the op's memory or keep that
/// memory (a send's `IORING_SEND_VECTORIZED` in `ioprio`, `MSG_ZEROCOPY`:
/// the library's flag types leave such bits out), that a buffer the kernel
/// writes is fed from an exclusive borrow (`&'a mut [u8]`, never a shared
/// `&'a [u8]`) of a type any bytes are a valid value of, and, unless it says
/// `#[retains_memory]`, that the kernel is done with that memory once the
/// op's last completion is posted. Checked at compile time, whatever form
/// the opcode is given in: an entry of opcode `LINK_TIMEOUT` must say
/// `#[after_link]`, one of `PROVIDE_BUFFERS` `#[retains_memory]`, one of
/// `CLOSE` must take `target: owned`, only `CLOSE` takes a fixed target in
/// `file_index` (`fixed(file_index)`), and only `TIMEOUT`, `LINK_TIMEOUT`
/// and `TIMEOUT_REMOVE` take a `#[ring_owned]` argument.
///
/// Inside the braces, separated by commas, with SQE fields named as in
/// `linux/io_uring.h` (`off`, `addr`, `len`, `rw_flags`, `buf_group`, ...):
///
/// - `target: fd`, `target: fd | fixed`, `target: owned | fixed(file_index)`:
///   what the op acts on. `fixed` makes the op generic over `Fd` and
///   `Fixed` and sets `IOSQE_FIXED_FILE` for a fixed target, or with
///   `(file_index)` writes the slot there as index + 1; `owned` takes
///   ownership of the descriptor (for ops that close it).
/// - `name: Type => field`: a required argument, a constructor parameter.
/// - `name: Type = default => field`: an optional one, with a setter.
/// - `name: Type => a + b`: one argument filling several fields, through
///   `uring::op::SqeField<(A, B)>` (a slice fills `addr + len`).
/// - `name: impl Into<Type> => field`: the constructor and setter convert.
/// - `#[ring_owned] name: Timespec => addr`: the ring keeps a copy until the
///   kernel has consumed the SQE, and the field gets its address (one such
///   argument per op: the ring keeps one copy per SQ slot). For the
///   timespecs the kernel copies as it consumes the SQE: `TIMEOUT`,
///   `LINK_TIMEOUT` and `TIMEOUT_REMOVE` entries only.
/// - The target of `target: owned` is out of reach of the module's own
///   code (neither copied out nor replaced): the op owns it.
/// - `buf: &'a mut [u8] | select => addr + len`: a buffer, or a
///   `BufferSelect` in its place (the op becomes generic over which).
/// - `group: select => addr + len`: only a provided-buffer group.
/// - `const field = value`: a field every SQE of the op carries, computed
///   at compile time (a `const` block).
/// - `name: Type => cmd`: the command area of `URING_CMD` (`sqe->cmd`),
///   through `uring::op::SqeField<[u8; 16]>`: the 16 bytes from offset 48
///   of a 64-byte SQE (over `addr3` and `__pad2`), or, in an entry marked
///   `#[sqe128]`, `SqeField<[u8; 80]>`: the 80 bytes from offset 48 of a
///   128-byte SQE.
///
/// An entry may carry `#[cfg(..)]` (every item made for it is configured
/// with it, and a `#![list]` leaves it out when configured out),
/// `#[deprecated]` (on its struct) and `#[allow(..)]`.
///
/// The code it expands to names everything by an absolute path
/// (`::core::primitive::u32`, `::uring::op::SqeSlot::write(..)`), so a
/// crate that shadows prelude names or primitive types, or has a trait of
/// its own in scope with methods of the same names, declares ops as any
/// other. Its paths start `::uring::`: the dependency keeps that name (an
/// `extern crate uring as io;` alias is fine, a Cargo rename is not). And
/// an argument's type or default cannot name a type `T`
/// or `B` by itself (those are the op's target and buffer type parameters:
/// write `self::T`), and a `#![no_implicit_prelude]` module cannot hold a
/// table (its items carry `#[diagnostic::do_not_recommend]`, which rustc
/// resolves through the prelude).
///
/// Argument names starting with `__` are the generated code's. The op's
/// user data, SQE flags and personality are set through its `user_data`,
/// `flags` (`SqeFlags`: drain, async, skip-success) and `personality`
/// methods only; the fixed-file, link and buffer-select bits follow from
/// its type.
///
/// Every problem is reported at its token, all of them at once: unknown or
/// misspelt fields and opcodes (with the closest name), a field set twice,
/// two fields that share bytes, reserved fields, a missing opcode, `unsafe`
/// or `#[since]`, defaults of the wrong type.
#[proc_macro]
pub fn ops(input: TokenStream) -> TokenStream {
    let table = syn::parse_macro_input!(input as model::Table);
    match validate::check(&table) {
        Ok(checked) => expand::expand(table.list.as_ref(), &checked).into(),
        Err(errors) => errors.to_compile_error().into(),
    }
}
