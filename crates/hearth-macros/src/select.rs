//! The expansion of `hearth_future::select!`.
//!
//! `hearth_future::select!` is a `macro_rules!` wrapper that forwards its
//! input here behind its `$crate` (`$crate; <input>`), so the expansion names
//! hearth-future's internals wherever the user calls it from. Parsing in one
//! procedural step keeps the expansion depth constant: 64 branches do not
//! come near the default `recursion_limit`, whatever their patterns.
//!
//! The expansion (for branches `0..n`):
//!
//! 1. every precondition, in order, into a `u64` of disabled branches;
//! 2. every future expression, in order, into one tuple (so temporaries in
//!    them live as long as the `select!`), then `IntoFuture::into_future` of
//!    each, in order; they are pinned in reverse order so that they drop in
//!    declaration order;
//! 3. `Select::poll` checks the cooperative budget and polls the due
//!    branches; a ready output is tested against its pattern with `ref` and
//!    `mut` removed, by reference, and either wins (moved into the output
//!    enum) or disables its branch. The output enum is assigned to a
//!    variable declared before the block that holds the futures, so that a
//!    panic while they drop drops it too;
//! 4. outside of any closure, a `match` on the output enum binds the
//!    pattern and runs the handler, so `return`, `break`, `continue` and `?`
//!    in a handler act on the code around the `select!`.
//!
//! Internal names use `Span::mixed_site()`, so they cannot clash with the
//! user's variables.

use proc_macro2::{Literal, Span, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::parse::{ParseStream, Parser};
use syn::spanned::Spanned;
use syn::visit_mut::{self, VisitMut};
use syn::{token, Block, Expr, ExprBlock, Ident, Index, Pat, Token};

/// The most branches one `select!` takes (the ready set is one `u64`).
const MAX_BRANCHES: usize = 64;

struct Branch {
    pat: Pat,
    future: Expr,
    condition: Option<Expr>,
    handler: Expr,
}

struct Input {
    /// `$crate` of hearth-future.
    krate: TokenTree,
    biased: bool,
    branches: Vec<Branch>,
    otherwise: Option<Expr>,
}

/// Expands `$crate; [biased;] <branches> [else => <handler>]`.
pub(crate) fn expand(input: TokenStream) -> TokenStream {
    match parse.parse2(input) {
        Ok(input) => emit(&input),
        Err(e) => e.into_compile_error(),
    }
}

/// A handler: a block (the comma after it is optional) or an expression
/// (followed by a comma unless it is the last).
fn parse_handler(input: ParseStream<'_>) -> syn::Result<Expr> {
    if input.peek(token::Brace) {
        let block: Block = input.parse()?;
        let _ = input.parse::<Option<Token![,]>>()?;
        return Ok(Expr::Block(ExprBlock {
            attrs: Vec::new(),
            label: None,
            block,
        }));
    }
    let handler: Expr = input.parse()?;
    if !input.is_empty() {
        input.parse::<Token![,]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "select!: expected `,` after a handler that is not a block",
            )
        })?;
    }
    Ok(handler)
}

fn parse(input: ParseStream<'_>) -> syn::Result<Input> {
    let krate: TokenTree = input.parse()?;
    input.parse::<Token![;]>()?;
    let biased = input.peek(Ident) && input.peek2(Token![;]) && {
        let fork = input.fork();
        fork.parse::<Ident>()? == "biased"
    };
    if biased {
        input.parse::<Ident>()?;
        input.parse::<Token![;]>()?;
    }
    let mut branches = Vec::new();
    let mut otherwise = None;
    while !input.is_empty() {
        if input.peek(Token![else]) {
            let token = input.parse::<Token![else]>()?;
            if otherwise.is_some() {
                return Err(syn::Error::new(
                    token.span,
                    "select!: more than one `else` branch",
                ));
            }
            input.parse::<Token![=>]>()?;
            otherwise = Some(parse_handler(input)?);
            continue;
        }
        let pat = Pat::parse_multi_with_leading_vert(input)?;
        if branches.len() == MAX_BRANCHES {
            return Err(syn::Error::new(
                pat.span(),
                "select! supports at most 64 branches",
            ));
        }
        input.parse::<Token![=]>().map_err(|e| {
            syn::Error::new(
                e.span(),
                "select!: expected `<pattern> = <future> [, if <condition>] => <handler>`",
            )
        })?;
        let future: Expr = input.parse()?;
        let condition = if input.peek(Token![,]) && input.peek2(Token![if]) {
            input.parse::<Token![,]>()?;
            input.parse::<Token![if]>()?;
            Some(input.parse()?)
        } else {
            None
        };
        input.parse::<Token![=>]>()?;
        let handler = parse_handler(input)?;
        branches.push(Branch {
            pat,
            future,
            condition,
            handler,
        });
    }
    Ok(Input {
        krate,
        biased,
        branches,
        otherwise,
    })
}

/// Removes `ref` and `mut` from a pattern's bindings (and `mut` from `&mut`
/// patterns), so that it can test an output by shared reference before the
/// output is moved into the real pattern.
struct Clean;

impl VisitMut for Clean {
    fn visit_pat_ident_mut(&mut self, p: &mut syn::PatIdent) {
        p.by_ref = None;
        p.mutability = None;
        visit_mut::visit_pat_ident_mut(self, p);
    }

    fn visit_pat_reference_mut(&mut self, p: &mut syn::PatReference) {
        p.mutability = None;
        visit_mut::visit_pat_reference_mut(self, p);
    }
}

fn emit(input: &Input) -> TokenStream {
    let Input {
        krate,
        biased,
        branches,
        otherwise,
    } = input;
    let n = branches.len();
    if n == 0 {
        return match otherwise {
            Some(h) => quote! {{ #h }},
            None => quote! {
                ::core::compile_error!("select! requires at least one branch")
            },
        };
    }
    let site = Span::mixed_site();
    let out = Ident::new("__Out", site);
    let sel = Ident::new("__sel", site);
    let disabled = Ident::new("__disabled", site);
    let init = Ident::new("__init", site);
    let output = Ident::new("__output", site);
    let cx = Ident::new("__cx", site);
    let i = Ident::new("__i", site);
    let v = Ident::new("__v", site);
    let matches = Ident::new("__matches", site);
    let variants: Vec<Ident> = (0..n).map(|k| format_ident!("_{}", k)).collect();
    let futures: Vec<Ident> = (0..n)
        .map(|k| Ident::new(&format!("__f{k}"), site))
        .collect();
    let fields = (0..n).map(Index::from);

    let conditions = branches.iter().enumerate().filter_map(|(k, b)| {
        let c = b.condition.as_ref()?;
        let k = k as u32;
        Some(quote! { if !(#c) { #disabled |= 1u64 << #k; } })
    });
    let exprs = branches.iter().map(|b| &b.future);
    let pins = futures
        .iter()
        .rev()
        .map(|f| quote! { let mut #f = ::core::pin::pin!(#f); });
    let polls = branches.iter().enumerate().map(|(k, b)| {
        let mut clean = b.pat.clone();
        Clean.visit_pat_mut(&mut clean);
        let (f, var) = (&futures[k], &variants[k]);
        let k = Literal::usize_unsuffixed(k);
        quote! {
            #[allow(unreachable_code)]
            #k => {
                // `return` (diverging) also lets an output type that nothing
                // else constrains fall back as in tokio's `select!`.
                let #v = match ::core::future::Future::poll(#f.as_mut(), #cx) {
                    ::core::task::Poll::Ready(#v) => #v,
                    ::core::task::Poll::Pending => return #krate::__private::Branch::Pending,
                };
                #[allow(unused_variables, unreachable_patterns)]
                let #matches = match &#v {
                    #clean => true,
                    _ => false,
                };
                if #matches {
                    #krate::__private::Branch::Won(#out::#var(#v))
                } else {
                    #krate::__private::Branch::Disabled
                }
            }
        }
    });
    let arms = branches.iter().zip(&variants).map(|(b, var)| {
        let (pat, handler) = (&b.pat, &b.handler);
        quote! { #out::#var(#pat) => #handler, }
    });
    let otherwise = match otherwise {
        Some(h) => quote! { #h },
        None => quote! {
            ::core::panic!("all branches are disabled and there is no else branch")
        },
    };
    quote! {{
        #[allow(non_camel_case_types, dead_code)]
        enum #out<#(#variants,)*> {
            #(#variants(#variants),)*
            __Disabled,
        }
        #[allow(unused_mut)]
        let mut #disabled: u64 = 0;
        #(#conditions)*
        // Declared out here and assigned in the block: if dropping a branch
        // future panics at the end of the block, the output is dropped too
        // (a block's value would leak, rust-lang/rust#47949).
        #[allow(unused_mut)]
        let mut #output;
        {
            let #init = (#(#exprs,)*);
            let (#(#futures,)*) = (#(#krate::__private::IntoFuture::into_future(#init.#fields),)*);
            #(#pins)*
            let mut #sel = #krate::__private::Select::new(#n, #biased, #disabled);
            #output = match ::core::future::poll_fn(|#cx: &mut ::core::task::Context<'_>| {
                #sel.poll(#cx, |#i: usize, #cx: &mut ::core::task::Context<'_>| match #i {
                    #(#polls)*
                    _ => ::core::unreachable!(),
                })
            })
            .await
            {
                ::core::option::Option::Some(#v) => #v,
                ::core::option::Option::None => #out::__Disabled,
            };
        }
        #[allow(unreachable_patterns)]
        match #output {
            #(#arms)*
            #out::__Disabled => #otherwise,
            _ => ::core::unreachable!("select!: a branch output matched its pattern once"),
        }
    }}
}
