//! Checks one template string: minijinja parses it (features `loop_controls`, `unicode`,
//! as HA's Jinja2 environment has `loopcontrols`), then a walk over the syntax tree finds
//! what HA's own check never looks at:
//!
//! - calls of functions, filters and tests HA's environment does not have (Jinja2 builtins
//!   plus HA's table; local macros, `{% set %}` names and `custom_templates/` imports
//!   count as defined);
//! - state-dependent names in limited templates (`trigger_variables`, MQTT trigger topic
//!   and payload);
//! - `{% import %}`/`{% from %}` of files or names `custom_templates/` does not have;
//! - mutating calls (`.append()`, `.update()`…) that HA's immutable sandbox refuses;
//! - misspelt context variables (`triger.entity_id`);
//! - entity ids passed as constants to `states()`, `is_state()`… or written as
//!   `states.domain.object_id`, for the reference check.
//!
//! Offsets in the results are byte offsets into the template text; `position.rs` maps
//! them to the file.

pub mod names;

use std::collections::{HashMap, HashSet};

use minijinja::machinery::ast::{self, CallArg, CallType, Expr, Stmt};
use minijinja::machinery::{Span, parse};

use crate::validate::codes::Code;
use crate::validate::domains;
use crate::validate::names::{CONTEXT_VARIABLES, TYPO_TARGETS, names, special_hint, suggest};

/// HA's `is_template_string`: what HA itself treats as a template.
pub fn is_template(s: &str) -> bool {
    s.contains('{') && (s.contains("{%") || s.contains("{{") || s.contains("{#"))
}

/// The templates in `custom_templates/` and the names each one exports.
#[derive(Debug, Default, Clone)]
pub struct CustomTemplates {
    /// Path relative to `custom_templates/` (`tools.jinja`, `sub/x.jinja`) -> exported names.
    pub files: HashMap<String, HashSet<String>>,
}

/// One finding inside a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub code: Code,
    /// Byte offset into the template text.
    pub offset: usize,
    pub message: String,
    pub hint: Option<String>,
}

/// An entity id the template reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntityUse {
    pub id: String,
    pub offset: usize,
}

/// Everything learnt from one template.
#[derive(Debug, Default)]
pub struct Outcome {
    pub findings: Vec<Finding>,
    pub entities: Vec<EntityUse>,
    /// Top-level macros and `{% set %}` names (what `{% from … import %}` can take).
    pub exported: HashSet<String>,
}

/// Where the template is rendered.
#[derive(Debug, Clone, Copy, Default)]
pub struct Context<'a> {
    /// A limited template (no state, registry or time functions).
    pub limited: bool,
    /// Variables the surrounding YAML declares (`variables:`, `fields:`, blueprint inputs).
    pub declared: Option<&'a HashSet<String>>,
}

/// Parses and walks a template.
pub fn check(src: &str, ctx: Context<'_>, custom: &CustomTemplates) -> Outcome {
    let mut out = Outcome::default();
    // minijinja is stricter than Jinja2 in two places (unary `+`, `with context` on
    // imports); such spots are blanked (same length, so offsets stay valid) and the
    // template parsed again, so no valid HA template is reported as a syntax error.
    let mut text = src.to_string();
    for _ in 0..16 {
        let err = match parse(&text, "<template>", Default::default()) {
            Ok(tree) => {
                let mut w = Walker {
                    src: &text,
                    ctx,
                    custom,
                    defined: HashSet::new(),
                    imports: HashMap::new(),
                    out: &mut out,
                };
                w.collect_defs(&tree, true);
                w.stmt(&tree);
                return out;
            }
            Err(e) => e,
        };
        let detail = err.detail().unwrap_or("syntax error").to_string();
        let offset = err
            .range()
            .map_or_else(|| line_offset(src, err.line().unwrap_or(1)), |r| r.start);
        if detail == "unexpected `+`" && text.as_bytes().get(offset) == Some(&b'+') {
            text.replace_range(offset..offset + 1, " ");
            continue;
        }
        if let Some(i) = find_ctx_clause(&text, offset) {
            let len = text[i..].find("context").map_or(0, |j| j + "context".len());
            text.replace_range(i..i + len, &" ".repeat(len));
            continue;
        }
        out.findings.push(Finding {
            code: Code::TemplateSyntax,
            offset: offset.min(src.len()),
            message: format!("template syntax error: {detail}"),
            hint: None,
        });
        return out;
    }
    out.findings.push(Finding {
        code: Code::TemplateSyntax,
        offset: 0,
        message: "template syntax error: too irregular to parse".into(),
        hint: None,
    });
    out
}

fn find_ctx_clause(text: &str, near: usize) -> Option<usize> {
    let start = near.saturating_sub(20).min(text.len());
    let window = text.get(start..(near + 20).min(text.len()))?;
    for pat in ["without context", "with context"] {
        if let Some(i) = window.find(pat) {
            return Some(start + i);
        }
    }
    None
}

fn line_offset(src: &str, line: usize) -> usize {
    if line <= 1 {
        return 0;
    }
    src.match_indices('\n')
        .nth(line - 2)
        .map_or(src.len(), |(i, _)| i + 1)
}

/// Methods HA's `ImmutableSandboxedEnvironment` refuses (`jinja2/sandbox.py: _mutable_spec`).
const MUTATING: &[&str] = &[
    "append",
    "extend",
    "insert",
    "remove",
    "sort",
    "reverse",
    "pop",
    "popitem",
    "clear",
    "update",
    "setdefault",
    "add",
    "discard",
    "difference_update",
    "intersection_update",
    "symmetric_difference_update",
];

/// Functions whose arguments are entity ids (all positional arguments for the ones that
/// take several).
const ENTITY_FIRST_ARG: &[&str] = &[
    "states",
    "is_state",
    "state_attr",
    "is_state_attr",
    "has_value",
    "state_translated",
    "state_attr_translated",
    "is_hidden_entity",
    "entity_name",
];
const ENTITY_ALL_ARGS: &[&str] = &["expand", "closest", "distance"];
/// Filters whose piped value is an entity id.
const ENTITY_FILTERS: &[&str] = &[
    "states",
    "state_attr",
    "has_value",
    "state_translated",
    "state_attr_translated",
    "expand",
    "closest",
    "entity_name",
];
/// Tests whose tested value is an entity id.
const ENTITY_TESTS: &[&str] = &["is_state", "is_state_attr", "has_value", "is_hidden_entity"];

struct Walker<'s, 'o> {
    src: &'s str,
    ctx: Context<'s>,
    custom: &'s CustomTemplates,
    /// Names assigned anywhere in the template (set, for, macro, import, with).
    defined: HashSet<&'s str>,
    /// `{% import 'x.jinja' as m %}`: alias -> file.
    imports: HashMap<&'s str, String>,
    out: &'o mut Outcome,
}

impl<'s> Walker<'s, '_> {
    fn finding(&mut self, code: Code, offset: usize, message: String, hint: Option<String>) {
        self.out.findings.push(Finding {
            code,
            offset,
            message,
            hint,
        });
    }

    /// Offset of `name` inside `span`, searching from `from`.
    fn name_at(&self, span: Span, from: usize, name: &str) -> usize {
        let start = from.max(span.start_offset as usize).min(self.src.len());
        let end = (span.end_offset as usize).clamp(start, self.src.len());
        self.src
            .get(start..end)
            .and_then(|s| s.find(name))
            .map_or(span.start_offset as usize, |i| start + i)
    }

    fn is_defined(&self, name: &str) -> bool {
        self.defined.contains(name)
            || CONTEXT_VARIABLES.contains(&name)
            || self.ctx.declared.is_some_and(|d| d.contains(name))
    }

    // --- definitions -----------------------------------------------------------------------

    fn collect_defs(&mut self, s: &Stmt<'s>, top: bool) {
        match s {
            Stmt::Template(t) => self.collect_all(&t.children, top),
            Stmt::ForLoop(f) => {
                self.targets(&f.target);
                self.collect_all(&f.body, false);
                self.collect_all(&f.else_body, false);
            }
            Stmt::IfCond(i) => {
                self.collect_all(&i.true_body, top);
                self.collect_all(&i.false_body, top);
            }
            Stmt::WithBlock(w) => {
                for (t, _) in &w.assignments {
                    self.targets(t);
                }
                self.collect_all(&w.body, false);
            }
            Stmt::Set(st) => {
                if top && let Expr::Var(v) = &st.target {
                    self.out.exported.insert(v.id.to_string());
                }
                self.targets(&st.target);
            }
            Stmt::SetBlock(st) => {
                if top && let Expr::Var(v) = &st.target {
                    self.out.exported.insert(v.id.to_string());
                }
                self.targets(&st.target);
                self.collect_all(&st.body, false);
            }
            Stmt::AutoEscape(a) => self.collect_all(&a.body, top),
            Stmt::FilterBlock(f) => self.collect_all(&f.body, false),
            Stmt::Block(b) => self.collect_all(&b.body, false),
            Stmt::Import(i) => {
                if let Expr::Var(v) = &i.name {
                    self.defined.insert(v.id);
                    if let Some(name) = const_str(&i.expr) {
                        self.imports.insert(v.id, name);
                    }
                }
            }
            Stmt::FromImport(f) => {
                for (name, alias) in &f.names {
                    if let Expr::Var(v) = alias.as_ref().unwrap_or(name) {
                        self.defined.insert(v.id);
                    }
                }
            }
            Stmt::Macro(m) => {
                self.defined.insert(m.name);
                if top {
                    self.out.exported.insert(m.name.to_string());
                }
                for a in &m.args {
                    self.targets(a);
                }
                self.collect_all(&m.body, false);
            }
            Stmt::CallBlock(c) => {
                for a in &c.macro_decl.args {
                    self.targets(a);
                }
                self.collect_all(&c.macro_decl.body, false);
            }
            _ => {}
        }
    }

    fn collect_all(&mut self, stmts: &[Stmt<'s>], top: bool) {
        for s in stmts {
            self.collect_defs(s, top);
        }
    }

    fn targets(&mut self, e: &Expr<'s>) {
        match e {
            Expr::Var(v) => {
                self.defined.insert(v.id);
            }
            Expr::List(l) => l.items.iter().for_each(|i| self.targets(i)),
            Expr::Tuple(t) => t.items.iter().for_each(|i| self.targets(i)),
            _ => {}
        }
    }

    // --- statements --------------------------------------------------------------------------

    fn stmts(&mut self, stmts: &[Stmt<'s>]) {
        for s in stmts {
            self.stmt(s);
        }
    }

    fn stmt(&mut self, s: &Stmt<'s>) {
        match s {
            Stmt::Template(t) => self.stmts(&t.children),
            Stmt::EmitExpr(e) => self.expr(&e.expr),
            Stmt::EmitRaw(_) | Stmt::Continue(_) | Stmt::Break(_) => {}
            Stmt::ForLoop(f) => {
                self.expr(&f.iter);
                if let Some(fe) = &f.filter_expr {
                    self.expr(fe);
                }
                self.stmts(&f.body);
                self.stmts(&f.else_body);
            }
            Stmt::IfCond(i) => {
                self.expr(&i.expr);
                self.stmts(&i.true_body);
                self.stmts(&i.false_body);
            }
            Stmt::WithBlock(w) => {
                for (_, e) in &w.assignments {
                    self.expr(e);
                }
                self.stmts(&w.body);
            }
            Stmt::Set(st) => {
                self.expr(&st.expr);
                if let Expr::GetAttr(g) = &st.target {
                    self.expr(&g.expr);
                }
            }
            Stmt::SetBlock(st) => {
                if let Some(f) = &st.filter {
                    self.expr(f);
                }
                self.stmts(&st.body);
            }
            Stmt::AutoEscape(a) => {
                self.expr(&a.enabled);
                self.stmts(&a.body);
            }
            Stmt::FilterBlock(f) => {
                self.expr(&f.filter);
                self.stmts(&f.body);
            }
            Stmt::Block(b) => self.stmts(&b.body),
            Stmt::Extends(e) => {
                self.template_ref(&e.name);
            }
            Stmt::Include(i) => {
                if !i.ignore_missing {
                    self.template_ref(&i.name);
                }
            }
            Stmt::Import(i) => {
                self.template_ref(&i.expr);
            }
            Stmt::FromImport(f) => {
                let Some(file) = self.template_ref(&f.expr) else {
                    return;
                };
                let Some(exports) = self.custom.files.get(&file) else {
                    return;
                };
                for (name, _) in &f.names {
                    if let Expr::Var(v) = name
                        && !exports.contains(v.id)
                    {
                        let hint = suggest(v.id, exports.iter().map(String::as_str))
                            .map(|s| format!("did you mean `{s}`?"))
                            .or_else(|| {
                                Some(format!("{file} defines: {}", sorted(exports).join(", ")))
                            });
                        let off = name.span().start_offset as usize;
                        self.finding(
                            Code::TemplateImportUnknown,
                            off,
                            format!("`{}` is not defined in custom_templates/{file}", v.id),
                            hint,
                        );
                    }
                }
            }
            Stmt::Macro(m) => {
                for d in &m.defaults {
                    self.expr(d);
                }
                self.stmts(&m.body);
            }
            Stmt::CallBlock(c) => {
                self.call(&c.call, c.call.span());
                self.stmts(&c.macro_decl.body);
            }
            Stmt::Do(d) => self.call(&d.call, d.call.span()),
        }
    }

    /// Checks a template name used by import/include/extends; returns it when constant.
    fn template_ref(&mut self, e: &Expr<'s>) -> Option<String> {
        let Some(name) = const_str(e) else {
            self.expr(e);
            return None;
        };
        if !self.custom.files.contains_key(&name) {
            let hint = suggest(&name, self.custom.files.keys().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"))
                .unwrap_or_else(|| "Home Assistant loads *.jinja files from custom_templates/ in the configuration directory".into());
            self.finding(
                Code::TemplateImportMissing,
                e.span().start_offset as usize,
                format!("template `{name}` not found in custom_templates/"),
                Some(hint),
            );
            return None;
        }
        Some(name)
    }

    // --- expressions -------------------------------------------------------------------------

    fn expr(&mut self, e: &Expr<'s>) {
        match e {
            Expr::Var(v) => self.var(v.id, v.span()),
            Expr::Const(_) => {}
            Expr::Slice(s) => {
                self.expr(&s.expr);
                for x in [&s.start, &s.stop, &s.step].into_iter().flatten() {
                    self.expr(x);
                }
            }
            Expr::UnaryOp(u) => self.expr(&u.expr),
            Expr::BinOp(b) => {
                self.expr(&b.left);
                self.expr(&b.right);
            }
            Expr::Compare(c) => {
                self.expr(&c.expr);
                for op in &c.ops {
                    self.expr(&op.expr);
                }
            }
            Expr::IfExpr(i) => {
                self.expr(&i.test_expr);
                self.expr(&i.true_expr);
                if let Some(f) = &i.false_expr {
                    self.expr(f);
                }
            }
            Expr::Filter(f) => {
                let from = f.expr.as_ref().map_or(0, |x| x.span().end_offset as usize);
                let off = self.name_at(f.span(), from, f.name);
                self.filter_name(f.name, off);
                if let Some(x) = &f.expr {
                    if ENTITY_FILTERS.contains(&f.name) {
                        self.entity_arg(x);
                    }
                    self.expr(x);
                }
                self.args(&f.args);
            }
            Expr::Test(t) => {
                let off = self.name_at(t.span(), t.expr.span().end_offset as usize, t.name);
                self.test_name(t.name, off);
                if ENTITY_TESTS.contains(&t.name) {
                    self.entity_arg(&t.expr);
                }
                self.expr(&t.expr);
                self.args(&t.args);
            }
            Expr::GetAttr(g) => {
                if let Expr::GetAttr(inner) = &g.expr
                    && matches!(&inner.expr, Expr::Var(v) if v.id == "states")
                {
                    self.entity(
                        &format!("{}.{}", inner.name, g.name),
                        g.span().start_offset as usize,
                    );
                }
                if let Expr::Var(v) = &g.expr {
                    self.attr_root(v.id, v.span(), g.name);
                }
                self.expr(&g.expr);
            }
            Expr::GetItem(g) => {
                if let Some(key) = const_str(&g.subscript_expr) {
                    match &g.expr {
                        Expr::Var(v) if v.id == "states" => {
                            self.entity(&key, g.subscript_expr.span().start_offset as usize)
                        }
                        Expr::GetAttr(inner) if matches!(&inner.expr, Expr::Var(v) if v.id == "states") => {
                            self.entity(
                                &format!("{}.{key}", inner.name),
                                g.subscript_expr.span().start_offset as usize,
                            )
                        }
                        _ => {}
                    }
                }
                self.expr(&g.expr);
                self.expr(&g.subscript_expr);
            }
            Expr::Call(c) => self.call(c, c.span()),
            Expr::List(l) => l.items.iter().for_each(|i| self.expr(i)),
            Expr::Tuple(t) => t.items.iter().for_each(|i| self.expr(i)),
            Expr::Map(m) => {
                m.keys.iter().for_each(|i| self.expr(i));
                m.values.iter().for_each(|i| self.expr(i));
            }
        }
    }

    fn args(&mut self, args: &[CallArg<'s>]) {
        for a in args {
            match a {
                CallArg::Pos(e)
                | CallArg::Kwarg(_, e)
                | CallArg::PosSplat(e)
                | CallArg::KwargSplat(e) => self.expr(e),
            }
        }
    }

    fn call(&mut self, c: &ast::Call<'s>, span: Span) {
        match c.identify_call() {
            CallType::Function(name) => {
                self.function(name, span.start_offset as usize);
                let positional: Vec<&Expr<'s>> = c
                    .args
                    .iter()
                    .filter_map(|a| match a {
                        CallArg::Pos(e) => Some(e),
                        _ => None,
                    })
                    .collect();
                if !self.defined.contains(name) {
                    if ENTITY_FIRST_ARG.contains(&name) {
                        if let Some(first) = positional.first() {
                            self.entity_arg(first);
                        }
                    } else if ENTITY_ALL_ARGS.contains(&name) {
                        for a in &positional {
                            self.entity_arg(a);
                        }
                    }
                }
            }
            CallType::Method(recv, method) => {
                if MUTATING.contains(&method)
                    && !matches!(recv, Expr::Var(v) if self.imports.contains_key(v.id))
                {
                    let off = self.name_at(span, recv.span().end_offset as usize, method);
                    self.finding(
                        Code::TemplateMutation,
                        off,
                        format!("`.{method}()` changes a value in place: Home Assistant's immutable sandbox refuses it when the template runs"),
                        Some("build a new value instead (`items + [x]`, `dict(d, key=v)`), or keep state in a `namespace()`".into()),
                    );
                }
                if let Expr::Var(v) = recv {
                    self.module_member(v.id, method, span.start_offset as usize);
                }
                self.expr(recv);
            }
            _ => self.expr(&c.expr),
        }
        self.args(&c.args);
    }

    /// `m.name` where `m` comes from `{% import 'x.jinja' as m %}`.
    fn module_member(&mut self, alias: &str, member: &str, offset: usize) {
        let Some(file) = self.imports.get(alias) else {
            return;
        };
        let Some(exports) = self.custom.files.get(file) else {
            return;
        };
        if !exports.contains(member) {
            let hint = suggest(member, exports.iter().map(String::as_str))
                .map(|s| format!("did you mean `{s}`?"));
            let file = file.clone();
            self.finding(
                Code::TemplateImportUnknown,
                offset,
                format!("`{member}` is not defined in custom_templates/{file}"),
                hint,
            );
        }
    }

    fn var(&mut self, name: &str, span: Span) {
        if self.ctx.limited && names::not_in_limited(name) && !self.defined.contains(name) {
            self.limited(name, span.start_offset as usize);
        }
    }

    fn attr_root(&mut self, name: &str, span: Span, attr: &str) {
        self.module_member(name, attr, span.start_offset as usize);
        let n = names();
        if self.is_defined(name)
            || n.globals.contains(name)
            || n.filters.contains(name)
            || n.tests.contains(name)
        {
            return;
        }
        if let Some(target) = suggest(name, TYPO_TARGETS.iter().copied()) {
            self.finding(
                Code::TemplateUnknownVariable,
                span.start_offset as usize,
                format!("unknown variable `{name}`"),
                Some(format!("did you mean `{target}`?")),
            );
        }
    }

    fn limited(&mut self, name: &str, offset: usize) {
        self.finding(
            Code::TemplateLimited,
            offset,
            format!("`{name}` is not available in limited templates"),
            Some("trigger_variables and MQTT trigger topic/payload are rendered before any state is read; move this to `variables:`".into()),
        );
    }

    fn function(&mut self, name: &str, offset: usize) {
        let n = names();
        if self.defined.contains(name) {
            return;
        }
        if n.globals.contains(name)
            || CONTEXT_VARIABLES.contains(&name)
            || matches!(name, "super" | "self")
        {
            if self.ctx.limited && names::not_in_limited(name) {
                self.limited(name, offset);
            }
            return;
        }
        if self.ctx.declared.is_some_and(|d| d.contains(name)) {
            return;
        }
        let hint = special_hint("function", name)
            .map(str::to_string)
            .or_else(|| {
                let locals = self.defined.iter().copied();
                suggest(name, n.globals.iter().copied().chain(locals))
                    .map(|s| format!("did you mean `{s}`?"))
            })
            .or_else(|| {
                n.filters
                    .contains(name)
                    .then(|| format!("`{name}` is a filter: `value | {name}(…)`"))
            })
            .or_else(|| {
                n.tests
                    .contains(name)
                    .then(|| format!("`{name}` is a test: `value is {name}`"))
            });
        self.finding(
            Code::TemplateUnknownFunction,
            offset,
            format!(
                "unknown function `{name}`: the template fails with UndefinedError when it runs"
            ),
            hint,
        );
    }

    fn filter_name(&mut self, name: &str, offset: usize) {
        let n = names();
        if n.filters.contains(name) {
            if self.ctx.limited && names::not_in_limited(name) {
                self.limited(name, offset);
            }
            return;
        }
        let hint = special_hint("filter", name)
            .map(str::to_string)
            .or_else(|| {
                suggest(name, n.filters.iter().copied()).map(|s| format!("did you mean `{s}`?"))
            })
            .or_else(|| {
                n.globals
                    .contains(name)
                    .then(|| format!("`{name}` is a function: `{name}(value)`"))
            })
            .or_else(|| {
                n.tests
                    .contains(name)
                    .then(|| format!("`{name}` is a test: `value is {name}`"))
            });
        self.finding(
            Code::TemplateUnknownFilter,
            offset,
            format!("unknown filter `{name}`: Home Assistant has no such filter"),
            hint,
        );
    }

    fn test_name(&mut self, name: &str, offset: usize) {
        let n = names();
        if n.tests.contains(name) {
            if self.ctx.limited && names::not_in_limited(name) {
                self.limited(name, offset);
            }
            return;
        }
        let hint = suggest(name, n.tests.iter().copied())
            .map(|s| format!("did you mean `{s}`?"))
            .or_else(|| {
                n.filters
                    .contains(name)
                    .then(|| format!("`{name}` is a filter: `value | {name}`"))
            });
        self.finding(
            Code::TemplateUnknownTest,
            offset,
            format!("unknown test `{name}`"),
            hint,
        );
    }

    fn entity_arg(&mut self, e: &Expr<'s>) {
        match e {
            Expr::Const(c) => {
                if let Some(s) = c.value.as_str() {
                    self.entity(s, c.span().start_offset as usize);
                }
            }
            Expr::List(l) => l.items.iter().for_each(|i| self.entity_arg(i)),
            Expr::Tuple(t) => t.items.iter().for_each(|i| self.entity_arg(i)),
            _ => {}
        }
    }

    fn entity(&mut self, id: &str, offset: usize) {
        let id = id.trim();
        if domains::is_entity_id(id)
            && id
                .split_once('.')
                .is_some_and(|(d, _)| domains::is_entity_domain(d))
        {
            self.out.entities.push(EntityUse {
                id: id.to_string(),
                offset,
            });
        }
    }
}

fn const_str(e: &Expr<'_>) -> Option<String> {
    match e {
        Expr::Const(c) => c.value.as_str().map(str::to_string),
        _ => None,
    }
}

fn sorted(s: &HashSet<String>) -> Vec<&str> {
    let mut v: Vec<&str> = s.iter().map(String::as_str).collect();
    v.sort_unstable();
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(src: &str) -> Outcome {
        check(src, Context::default(), &CustomTemplates::default())
    }

    fn codes(src: &str) -> Vec<(Code, usize)> {
        run(src)
            .findings
            .iter()
            .map(|f| (f.code, f.offset))
            .collect()
    }

    #[test]
    fn detection() {
        assert!(is_template("{{ x }}") && is_template("a {% if x %}") && is_template("{# c #}"));
        assert!(!is_template("{x}") && !is_template("plain") && !is_template("%{x}"));
    }

    #[test]
    fn syntax_errors_have_offsets() {
        let f = run("line1\n{% if x %}\n  {{ y | round( }}\n{% endif %}").findings;
        assert_eq!(f[0].code, Code::TemplateSyntax);
        assert_eq!(f[0].offset, 33);
        assert!(run("{{ +1 }}").findings.is_empty());
        assert!(
            run("{% for x in y %}{% break %}{% endfor %}")
                .findings
                .is_empty()
        );
    }

    #[test]
    fn unknown_names() {
        assert_eq!(
            codes("{{ statest('sensor.x') }}"),
            vec![(Code::TemplateUnknownFunction, 3)]
        );
        let f = run("{{ statest('sensor.x') }}").findings;
        assert_eq!(f[0].hint.as_deref(), Some("did you mean `states`?"));
        assert_eq!(
            codes("{% if x %}{{ y | strftime('%H') }}{% endif %}"),
            vec![(Code::TemplateUnknownFilter, 17)]
        );
        assert_eq!(
            codes("{{ x is stat }}"),
            vec![(Code::TemplateUnknownTest, 8)]
        );
        assert!(
            codes("{{ states('a.b') | float(0) | round(1) }} {{ now().strftime('%H') }}")
                .is_empty()
        );
        assert!(codes("{% macro m(a) %}{{ a }}{% endmacro %}{{ m(1) }}").is_empty());
        assert!(codes("{% set f = as_function(m) %}{{ f(1) }}").is_empty());
        assert!(codes("{% set ns = namespace(a=[]) %}{% set ns.a = ns.a + [1] %}").is_empty());
        assert!(
            codes("{{ x is is_state('on') }} {{ x | selectattr('a', 'eq', 1) | list }}").is_empty()
        );
        assert_eq!(
            codes("{{ len(x) }}"),
            vec![(Code::TemplateUnknownFunction, 3)]
        );
    }

    #[test]
    fn limited_templates() {
        let ctx = Context {
            limited: true,
            declared: None,
        };
        let f = check(
            "{{ states('sensor.x') }} {{ 'a' | float }} {{ now() }}",
            ctx,
            &CustomTemplates::default(),
        )
        .findings;
        let got: Vec<Code> = f.iter().map(|f| f.code).collect();
        assert_eq!(got, vec![Code::TemplateLimited, Code::TemplateLimited]);
    }

    #[test]
    fn imports() {
        let mut custom = CustomTemplates::default();
        custom.files.insert(
            "tools.jinja".into(),
            ["greet".to_string()].into_iter().collect(),
        );
        let c = |s: &str| -> Vec<Code> {
            check(s, Context::default(), &custom)
                .findings
                .iter()
                .map(|f| f.code)
                .collect()
        };
        assert!(c("{% from 'tools.jinja' import greet %}{{ greet() }}").is_empty());
        assert_eq!(
            c("{% from 'tools.jinja' import gret %}"),
            vec![Code::TemplateImportUnknown]
        );
        assert_eq!(
            c("{% from 'nope.jinja' import x %}{{ x() }}"),
            vec![Code::TemplateImportMissing]
        );
        assert_eq!(
            c("{% import 'tools.jinja' as t %}{{ t.greet() }}{{ t.nope() }}"),
            vec![Code::TemplateImportUnknown]
        );
    }

    #[test]
    fn mutation_and_typos() {
        assert_eq!(
            codes("{% set l = [] %}{% do l.append(1) %}"),
            vec![(Code::TemplateMutation, 24)]
        );
        assert_eq!(
            codes("{{ triger.to_state.state }}"),
            vec![(Code::TemplateUnknownVariable, 3)]
        );
        assert!(codes("{{ trigger.to_state.state }} {{ repeat.index }}").is_empty());
    }

    #[test]
    fn entity_refs() {
        let o = run(
            "{{ states('sensor.a') }} {{ is_state('light.b', 'on') }} {{ states.switch.c.state }} {{ 'binary_sensor.d' | state_attr('x') }} {{ expand(['group.e', 'light.f']) }} {{ states['cover.g'] }} {{ trigger.entity_id }}",
        );
        let ids: Vec<&str> = o.entities.iter().map(|e| e.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![
                "sensor.a",
                "light.b",
                "switch.c",
                "binary_sensor.d",
                "group.e",
                "light.f",
                "cover.g"
            ]
        );
    }

    #[test]
    fn exports() {
        let o =
            run("{% macro a() %}{% endmacro %}{% set b = 1 %}{% if x %}{% set c = 2 %}{% endif %}");
        assert!(o.exported.contains("a") && o.exported.contains("b"));
    }
}
