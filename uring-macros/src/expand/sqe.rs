//! The code that writes an op's SQE: each argument converted to the field
//! the kernel reads, unions filled member by member, the 16-byte command of
//! a 64-byte SQE in its last union, the 80-byte command of a 128-byte SQE
//! after it.

use crate::model::Arg;
use crate::sqe::{Field, Member, Slot};
use crate::validate::{Checked, Source, TargetKind, Write};
use proc_macro2::{Span, TokenStream};
use quote::{format_ident, quote, quote_spanned};
use syn::spanned::Spanned;

/// The SQE field type (or tuple of types) an argument converts to, in an
/// entry of 128-byte SQEs or not (`sqe128`).
pub(super) fn arg_field_type(arg: &Arg, sqe128: bool) -> TokenStream {
    let tys: Vec<TokenStream> = arg
        .fields
        .iter()
        .map(|f| {
            field_type(
                crate::sqe::field(&f.to_string()).expect("checked field"),
                sqe128,
            )
        })
        .collect();
    if tys.len() == 1 {
        tys[0].clone()
    } else {
        quote!((#(#tys),*))
    }
}

/// `Prepare::fits_ring`: the target and every argument that names a
/// registered file must belong to the ring pushed to. Arguments that name
/// none answer `true` at compile time.
pub(super) fn expand_fits_ring(c: &Checked<'_>) -> TokenStream {
    let mut checks = Vec::new();
    if c.owned {
        checks.push(quote!(::uring::op::OwnedTarget::fits_ring(
            &self.target,
            __ring
        )));
    } else if c.target != TargetKind::None {
        checks.push(quote!(::uring::Target::fits_ring(&self.target, __ring)));
    }
    for (i, arg) in c.entry.args.iter().enumerate() {
        if c.select == Some(i) || arg.ring_owned.is_some() {
            continue;
        }
        let n = &arg.name;
        let ty = arg_field_type(arg, c.entry.sqe128.is_some());
        checks.push(quote!(::uring::op::SqeField::<#ty>::fits_ring(&self.#n, __ring)));
    }
    if checks.is_empty() {
        checks.push(quote!(true));
    }
    quote! {
        #[inline(always)]
        fn fits_ring(&self, __ring: ::core::primitive::u32) -> ::core::primitive::bool {
            let _ = __ring;
            #(#checks)&&*
        }
    }
}

/// The body of `Entry::prepare`: convert every argument, then write the
/// whole SQE with one struct literal.
pub(super) fn expand_prepare(c: &Checked<'_>) -> TokenStream {
    let entry = c.entry;
    let sqe128 = entry.sqe128.is_some();
    // Each argument is bound to a name of its own (`__v0`, ...), which the
    // validator keeps from every argument (names starting with `__` are
    // refused): an argument named `link` or `slot` cannot shadow the
    // parameters below.
    let arg_names: Vec<_> = entry.args.iter().map(|a| &a.name).collect();
    let bindings: Vec<_> = (0..entry.args.len())
        .map(|i| format_ident!("__v{}", i))
        .collect();
    let target_pat = if c.target == TargetKind::None {
        quote!()
    } else {
        quote!(target: __target,)
    };
    let mut lets = Vec::new();
    if c.owned {
        lets.push(quote! {
            // SAFETY: this is the op's `prepare`: the target goes into the
            // SQE of the op that closes it, and nowhere else.
            let __target = unsafe { ::uring::op::OwnedTarget::into_sqe_target(__target) };
        });
    }
    for (i, arg) in entry.args.iter().enumerate() {
        let n = &bindings[i];
        let local = format_ident!("__arg{}", i);
        if c.select == Some(i) {
            let ty = &arg.ty;
            let parts = if arg.select_only {
                quote!(<B as ::uring::op::SelectOnly>::into_parts(#n))
            } else {
                quote!(<B as ::uring::op::SelectBuffer<#ty>>::into_parts(#n))
            };
            lets.push(quote! {
                let #local: (
                    ::core::primitive::u64,
                    ::core::primitive::u32,
                    ::core::primitive::u16,
                    ::core::primitive::u8,
                ) = #parts;
            });
            continue;
        }
        if arg.ring_owned.is_some() {
            lets.push(quote_spanned! {arg.name.span()=>
                let #local: ::core::primitive::u64 =
                    ::uring::op::SqeSlot::ring_owned(&mut __slot, #n);
            });
            continue;
        }
        let ty = arg_field_type(arg, sqe128);
        let ty_span = arg.ty.span();
        lets.push(quote_spanned! {ty_span=>
            let #local: #ty = ::uring::op::SqeField::<#ty>::into_field(#n);
        });
    }

    let target_flag = match c.target {
        TargetKind::FdOrFixed => quote!(| <T as ::uring::Target>::SQE_FLAGS),
        TargetKind::Fixed => quote!(| ::uring::sys::IOSQE_FIXED_FILE),
        _ => quote!(),
    };
    let select_flag = match c.select {
        Some(i) => {
            let local = format_ident!("__arg{}", i);
            quote!(| #local.3)
        }
        None => quote!(),
    };

    let value_of = |w: &Write| -> TokenStream {
        match w.source {
            Source::Arg { index, part, parts } => {
                let local = format_ident!("__arg{}", index);
                if parts == 1 {
                    quote!(#local)
                } else {
                    let part = syn::Index::from(part);
                    quote!(#local.#part)
                }
            }
            Source::RingOwned(index) => {
                let local = format_ident!("__arg{}", index);
                quote!(#local)
            }
            Source::Const(index) => {
                let constant = &entry.consts[index];
                let value = &constant.value;
                let ty = field_type(w.field, sqe128);
                // In a `const` block: the value is computed at compile
                // time, and cannot leave `prepare` (`return`) between the
                // reservation of the slot and its write.
                quote_spanned!(value.span()=> ::uring::op::SqeField::<#ty>::into_field(const { #value }))
            }
            Source::TargetFd => match c.target {
                TargetKind::FdOrFixedIndex => quote! {
                    if <T as ::uring::Target>::FIXED { 0 } else { ::uring::Target::raw(&__target) }
                },
                _ => quote!(::uring::Target::raw(&__target)),
            },
            Source::TargetFileIndex => quote! {
                if <T as ::uring::Target>::FIXED {
                    ::core::primitive::u32::wrapping_add(
                        ::uring::Target::raw(&__target) as ::core::primitive::u32,
                        1,
                    )
                } else {
                    0
                }
            },
            Source::SelectAddr | Source::SelectLen | Source::SelectGroup => {
                let local = format_ident!("__arg{}", c.select.expect("select source"));
                let part = syn::Index::from(match w.source {
                    Source::SelectAddr => 0,
                    Source::SelectLen => 1,
                    _ => 2,
                });
                quote!(#local.#part)
            }
        }
    };

    let slot_expr = |slot: Slot| -> TokenStream {
        let writes: Vec<&Write> = c.writes.iter().filter(|w| w.field.slot == slot).collect();
        write_slot(slot, &writes, &value_of, sqe128)
    };
    let ioprio = slot_expr(Slot::Ioprio);
    let fd = slot_expr(Slot::Fd);
    let off = slot_expr(Slot::Off);
    let addr = slot_expr(Slot::Addr);
    let len = slot_expr(Slot::Len);
    let op_flags = slot_expr(Slot::OpFlags);
    let buf = slot_expr(Slot::Buf);
    let file = slot_expr(Slot::File);
    let addr3 = slot_expr(Slot::Addr3);
    // Only a 128-byte SQE's command is written after the SQE; a 64-byte
    // one's is in its last union (`write_slot`).
    let cmd = c
        .writes
        .iter()
        .find(|w| sqe128 && w.field.member == Member::Cmd)
        .map(&value_of);

    let write = match cmd {
        Some(cmd) => quote!(::uring::op::SqeSlot::write_with_cmd(&mut __slot, __sqe, &#cmd);),
        None => quote!(::uring::op::SqeSlot::write(&mut __slot, __sqe);),
    };

    quote! {
        #[inline(always)]
        fn prepare<__S: ::uring::SqeSize>(
            self,
            mut __slot: ::uring::op::SqeSlot<'_, __S>,
            __link: ::core::primitive::u8,
        ) {
            let Self { #target_pat #(#arg_names: #bindings,)* common: __common, .. } = self;
            #(#lets)*
            let __sqe = ::uring::sys::io_uring_sqe {
                opcode: <Self as ::uring::op::Entry>::CODE,
                flags: ::uring::op::Common::flags(&__common) | __link #target_flag #select_flag,
                ioprio: #ioprio,
                fd: #fd,
                off: #off,
                addr: #addr,
                len: #len,
                op_flags: #op_flags,
                user_data: ::uring::op::Common::user_data(&__common),
                buf: #buf,
                personality: ::uring::op::Common::personality(&__common),
                file: #file,
                addr3: #addr3,
            };
            #write
        }
    }
}

fn field_type(field: &Field, sqe128: bool) -> TokenStream {
    if field.member == Member::Cmd {
        return if sqe128 {
            quote!([::core::primitive::u8; 80])
        } else {
            quote!([::core::primitive::u8; 16])
        };
    }
    let ty = syn::Ident::new(field.ty, Span::call_site());
    quote!(::core::primitive::#ty)
}

fn union_type(slot: Slot) -> Option<(&'static str, TokenStream)> {
    let zero = match slot {
        Slot::Off => ("io_uring_sqe_off", quote!(off: 0)),
        Slot::Addr => ("io_uring_sqe_addr", quote!(addr: 0)),
        Slot::OpFlags => ("io_uring_sqe_op_flags", quote!(rw_flags: 0)),
        Slot::Buf => ("io_uring_sqe_buf", quote!(buf_index: 0)),
        Slot::File => ("io_uring_sqe_file", quote!(file_index: 0)),
        Slot::Addr3 => (
            "io_uring_sqe_addr3",
            quote!(addr3: ::uring::sys::io_uring_sqe_addr3_pad { addr3: 0, __pad2: [0] }),
        ),
        Slot::Ioprio | Slot::Fd | Slot::Len => return None,
    };
    Some(zero)
}

fn write_slot(
    slot: Slot,
    writes: &[&Write],
    value_of: &dyn Fn(&Write) -> TokenStream,
    sqe128: bool,
) -> TokenStream {
    // Writes of one field are or-ed together (validation allows several only
    // for `|field` claims).
    let combined = |of: &[&Write]| -> TokenStream {
        let values = of.iter().map(|w| value_of(w));
        quote!(#(#values)|*)
    };
    let Some((union_name, zero)) = union_type(slot) else {
        return if writes.is_empty() {
            quote!(0)
        } else {
            combined(writes)
        };
    };
    let union_ty = syn::Ident::new(union_name, Span::call_site());
    let Some(first) = writes.first() else {
        return quote!(::uring::sys::#union_ty { #zero });
    };
    match first.field.member {
        Member::Plain => unreachable!("plain fields have no union"),
        // Written after the SQE, by `write_with_cmd`.
        Member::Cmd if sqe128 => quote!(::uring::sys::#union_ty { #zero }),
        // The 16 bytes of `addr3` and `__pad2`, in order, as the kernel
        // reads `sqe->cmd`.
        Member::Cmd => {
            let value = value_of(first);
            let word = |from: usize| {
                let bytes = (from..from + 8).map(|i| {
                    let i = proc_macro2::Literal::usize_unsuffixed(i);
                    quote!(__cmd[#i])
                });
                quote!(::core::primitive::u64::from_ne_bytes([#(#bytes),*]))
            };
            let (low, high) = (word(0), word(8));
            quote!({
                let __cmd: [::core::primitive::u8; 16] = #value;
                ::uring::sys::#union_ty {
                    addr3: ::uring::sys::io_uring_sqe_addr3_pad { addr3: #low, __pad2: [#high] },
                }
            })
        }
        Member::Union(member) => {
            let member = syn::Ident::new(member, Span::call_site());
            let value = combined(writes);
            quote!(::uring::sys::#union_ty { #member: #value })
        }
        Member::Nested {
            member, ty, all, ..
        } => {
            let member = syn::Ident::new(member, Span::call_site());
            let struct_ty = syn::Ident::new(ty, Span::call_site());
            let inits = all.iter().map(|name| {
                let field = syn::Ident::new(name, Span::call_site());
                let of: Vec<&Write> = writes
                    .iter()
                    .copied()
                    .filter(|w| matches!(w.field.member, Member::Nested { field, .. } if field == *name))
                    .collect();
                if of.is_empty() {
                    quote!(#field: ::core::default::Default::default())
                } else {
                    let value = combined(&of);
                    quote!(#field: #value)
                }
            });
            quote!(::uring::sys::#union_ty { #member: ::uring::sys::#struct_ty { #(#inits),* } })
        }
    }
}
