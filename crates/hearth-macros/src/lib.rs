//! `#[hearth::main]` and `#[hearth::test]`: run an `async fn` on a hearth
//! [`Runtime`](../hearth/struct.Runtime.html).
//!
//! Use them through the `hearth` crate (`#[hearth::main]`), which re-exports
//! them; the expansion names `::hearth`.
//!
//! Both turn `async fn name() -> T { body }` into a plain `fn name() -> T`
//! that builds a runtime and runs `body` with
//! [`Runtime::block_on`](../hearth/struct.Runtime.html#method.block_on), that
//! is on the calling thread (the main thread, or the test's thread), while the
//! runtime's workers serve what the body sends them with `spawn_on`. The body
//! becomes an inner `async fn` with the same return type, so `?` and `return`
//! work as they do in the original.
//!
//! Options, comma-separated:
//!
//! | option | meaning | `main` default | `test` default |
//! |---|---|---|---|
//! | `workers = N` | worker threads (`N >= 1`) | one per CPU | 1 |
//! | `pin_to_cores = true\|false` | pin worker `i` to the `i`-th CPU | `false` | `false` |
//! | `start_paused = true\|false` | start every executor's clock paused (needs hearth's `test-util` feature) | `false` | `false` |
//!
//! The defaults follow tokio's: `#[tokio::main]` starts a worker per CPU,
//! `#[tokio::test]` the smallest runtime.
//!
//! The crate also expands `hearth_future::select!` (module `select`), which
//! forwards to the hidden `select_internal!`.

mod select;

use proc_macro::TokenStream;
use proc_macro2::{Span, TokenStream as TokenStream2};
use quote::{quote, quote_spanned};
use syn::parse::Parser;
use syn::punctuated::Punctuated;
use syn::spanned::Spanned;
use syn::{Expr, ExprLit, ItemFn, Lit, Meta, Token};

/// Runs an `async fn main` on a hearth runtime.
///
/// Expands to a `fn main` that builds a `hearth::Runtime` (one worker per CPU
/// unless `workers = N` says otherwise) and runs the body on the main thread
/// with `Runtime::block_on`. If the runtime cannot start (for example
/// `pin_to_cores = true` on a machine with fewer CPUs than workers), `main`
/// panics with the builder's error.
///
/// # Examples
///
/// ```
/// #[hearth::main(workers = 2)]
/// async fn main() {
///     let rt = hearth::runtime::Handle::current();
///     let on_worker = rt.spawn_on(1, || async { hearth::runtime::current_worker() });
///     assert_eq!(on_worker.unwrap().await.unwrap(), Some(1));
/// }
/// ```
///
/// `?` works as in any `main`:
///
/// ```
/// #[hearth::main(workers = 1)]
/// async fn main() -> Result<(), std::num::ParseIntError> {
///     let n: u32 = "42".parse()?;
///     assert_eq!(n, 42);
///     Ok(())
/// }
/// ```
///
/// # Graceful shutdown
///
/// When the body returns, the runtime is dropped, which *cancels* the tasks
/// still running on the workers (as with `#[tokio::main]`). To let the work
/// in flight finish first, await `Handle::shutdown_graceful` before
/// returning, for example on Ctrl-C (the `graceful` example of the `hearth`
/// crate is a whole server):
///
/// ```no_run
/// use std::time::Duration;
///
/// #[hearth::main]
/// async fn main() -> Result<(), Box<dyn std::error::Error>> {
///     let rt = hearth::runtime::Handle::current();
///     // ... start the server on the workers (`rt.spawn_on_all`) ...
///     hearth::signal::ctrl_c().await?;
///     // Stop accepting, let the requests in flight finish (30 s at most).
///     rt.shutdown_graceful(Duration::from_secs(30)).await?;
///     Ok(())
/// }
/// ```
#[proc_macro_attribute]
pub fn main(args: TokenStream, item: TokenStream) -> TokenStream {
    let item = TokenStream2::from(item);
    expand(Kind::Main, args.into(), item.clone())
        .unwrap_or_else(|err| {
            // Keep a `fn main` next to the error, so the error is the only one.
            let mut out = err.into_compile_error();
            if let Ok(mut func) = syn::parse2::<ItemFn>(item) {
                func.sig.asyncness = None;
                func.sig.inputs.clear();
                func.sig.generics = syn::Generics::default();
                func.block = syn::parse_quote!({ ::core::unimplemented!() });
                out.extend(quote!(#func));
            }
            out
        })
        .into()
}

/// Runs an `async fn` test on a hearth runtime.
///
/// Expands to a `#[test] fn` that builds a `hearth::Runtime` (one worker
/// unless `workers = N` says otherwise) and runs the body on the test's
/// thread with `Runtime::block_on`. The runtime is shut down when the test
/// returns.
///
/// `start_paused = true` starts every executor of the runtime with its clock
/// paused (`hearth::time::pause`; it needs hearth's `test-util` feature): a
/// `sleep` then returns as soon as nothing else can run, with the clock
/// moved to its deadline.
///
/// # Examples
///
/// ```
/// #[hearth::test(workers = 2)]
/// async fn reaches_every_worker() {
///     let rt = hearth::runtime::Handle::current();
///     for w in 0..rt.workers() {
///         let seen = rt.spawn_on(w, || async { hearth::runtime::current_worker() });
///         assert_eq!(seen.unwrap().await.unwrap(), Some(w));
///     }
/// }
/// ```
#[proc_macro_attribute]
pub fn test(args: TokenStream, item: TokenStream) -> TokenStream {
    expand(Kind::Test, args.into(), item.into())
        .unwrap_or_else(syn::Error::into_compile_error)
        .into()
}

/// The expansion of `hearth_future::select!`; use that macro, which passes
/// its `$crate` first: `select_internal!($crate; <select! input>)`.
#[doc(hidden)]
#[proc_macro]
pub fn select_internal(input: TokenStream) -> TokenStream {
    select::expand(input.into()).into()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Main,
    Test,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Main => "hearth::main",
            Kind::Test => "hearth::test",
        }
    }
}

#[derive(Default)]
struct Options {
    workers: Option<usize>,
    pin_to_cores: Option<bool>,
    start_paused: Option<bool>,
}

fn parse_options(kind: Kind, args: TokenStream2) -> syn::Result<Options> {
    let metas = Punctuated::<Meta, Token![,]>::parse_terminated.parse2(args)?;
    let mut options = Options::default();
    for meta in metas {
        let name = meta
            .path()
            .get_ident()
            .map(ToString::to_string)
            .unwrap_or_default();
        let value = match (&meta, name.as_str()) {
            (_, "workers" | "pin_to_cores" | "start_paused") => match &meta {
                Meta::NameValue(nv) => &nv.value,
                _ => {
                    return Err(syn::Error::new(
                        meta.span(),
                        format!("`{name}` takes a value: write `{name} = ...`"),
                    ))
                }
            },
            _ => {
                return Err(syn::Error::new(
                    meta.path().span(),
                    format!(
                        "unknown option for `#[{}]`; expected `workers = N`, \
                         `pin_to_cores = true|false` or `start_paused = true|false`",
                        kind.name()
                    ),
                ))
            }
        };
        let duplicate = || syn::Error::new(meta.span(), format!("`{name}` is given twice"));
        if name == "workers" {
            if options.workers.is_some() {
                return Err(duplicate());
            }
            let n = match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Int(n), ..
                }) => n.base10_parse::<usize>()?,
                _ => {
                    return Err(syn::Error::new(
                        value.span(),
                        "`workers` takes an integer literal, e.g. `workers = 2`",
                    ))
                }
            };
            if n == 0 {
                return Err(syn::Error::new(
                    value.span(),
                    "`workers` must be at least 1: a runtime needs a worker thread",
                ));
            }
            options.workers = Some(n);
        } else {
            let slot = if name == "pin_to_cores" {
                &mut options.pin_to_cores
            } else {
                &mut options.start_paused
            };
            if slot.is_some() {
                return Err(duplicate());
            }
            match value {
                Expr::Lit(ExprLit {
                    lit: Lit::Bool(b), ..
                }) => *slot = Some(b.value),
                _ => {
                    return Err(syn::Error::new(
                        value.span(),
                        format!("`{name}` takes `true` or `false`"),
                    ))
                }
            }
        }
    }
    Ok(options)
}

fn expand(kind: Kind, args: TokenStream2, item: TokenStream2) -> syn::Result<TokenStream2> {
    let options = parse_options(kind, args)?;
    let mut func: ItemFn = syn::parse2(item)?;
    let sig = &func.sig;
    if sig.asyncness.is_none() {
        return Err(syn::Error::new(
            sig.fn_token.span(),
            format!(
                "the `async` keyword is missing from the function declaration; \
                 `#[{}]` runs an `async fn`",
                kind.name()
            ),
        ));
    }
    if !sig.inputs.is_empty() {
        return Err(syn::Error::new(
            sig.inputs.span(),
            match kind {
                Kind::Main => "the main function cannot take arguments",
                Kind::Test => "test functions cannot take arguments",
            },
        ));
    }
    if !sig.generics.params.is_empty() || sig.generics.where_clause.is_some() {
        return Err(syn::Error::new(
            sig.generics.span(),
            format!("`#[{}]` functions cannot be generic", kind.name()),
        ));
    }
    if kind == Kind::Test {
        if let Some(attr) = func.attrs.iter().find(|a| a.path().is_ident("test")) {
            return Err(syn::Error::new(
                attr.span(),
                "remove this `#[test]`: `#[hearth::test]` already makes the function a test",
            ));
        }
    }

    let mut builder = quote! { ::hearth::Runtime::builder() };
    if let Some(n) = options.workers {
        builder.extend(quote! { .workers(#n) });
    } else if kind == Kind::Test {
        builder.extend(quote! { .workers(1) });
    }
    if let Some(pin) = options.pin_to_cores {
        builder.extend(quote! { .pin_to_cores(#pin) });
    }
    // Only `true` names the builder method, which exists with hearth's
    // `test-util` feature only (as tokio's `start_paused`).
    if options.start_paused == Some(true) {
        builder.extend(quote! { .start_paused(true) });
    }
    let expect = format!("{}: the hearth runtime failed to start", kind.name());

    // The body becomes an inner `async fn` with the original signature, so
    // its return type drives inference exactly as before (`?`, `return`).
    let mut inner_sig = func.sig.clone();
    inner_sig.ident = syn::Ident::new("__hearth_body", Span::call_site());
    let block = &func.block;
    let span = block.span();
    let body = quote_spanned! {span=>
        #inner_sig #block
        #builder.build().expect(#expect).block_on(__hearth_body())
    };

    func.sig.asyncness = None;
    let attrs = &func.attrs;
    let vis = &func.vis;
    let outer_sig = &func.sig;
    let test_attr = match kind {
        Kind::Test => quote! { #[::core::prelude::v1::test] },
        Kind::Main => quote! {},
    };
    Ok(quote! {
        #test_attr
        #(#attrs)*
        #vis #outer_sig {
            #body
        }
    })
}
