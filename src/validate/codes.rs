//! The stable list of diagnostic codes of `gitops-bridge check`.
//!
//! Every finding carries one of these codes. The names are part of the user interface
//! (ignore lists, CI filters, SARIF rule ids, the JSON report), so a code is never renamed
//! or reused; `docs/validate.md` documents each one with an example, and a test keeps the
//! two in step.

use serde::Serialize;

/// How bad a finding is. Ordered: `Info < Warning < Error`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing (deprecated forms, files HA never loads); never fails a run by default.
    Info,
    /// Probably wrong, or wrong in some setups (silent overwrites, unknown actions).
    Warning,
    /// Home Assistant fails to load it or fails when it runs.
    Error,
}

impl Severity {
    /// The lowercase name used in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

macro_rules! codes {
    ($( $(#[$doc:meta])* $variant:ident = $name:literal, $sev:ident, $summary:literal; )*
     @scan
     $( $(#[$sdoc:meta])* $svariant:ident = $sname:literal, $ssev:ident, $ssummary:literal; )*) => {
        /// A diagnostic code. See `docs/validate.md` (check) and `docs/scan.md` (scan) for
        /// an example of each.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $( $(#[$doc])* $variant, )*
            $( $(#[$sdoc])* $svariant, )*
        }

        impl Code {
            /// Every code of `check`, in documentation order (`docs/validate.md`).
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// Every code of `scan`, in documentation order (`docs/scan.md`).
            pub const SCAN: &'static [Code] = &[$(Code::$svariant),*];

            /// The page that documents this code (SARIF help links).
            pub fn doc_page(self) -> &'static str {
                if Code::SCAN.contains(&self) { "docs/scan.md" } else { "docs/validate.md" }
            }

            /// The stable kebab-case name (`template-unknown-function`).
            pub fn name(self) -> &'static str {
                match self { $(Code::$variant => $name,)* $(Code::$svariant => $sname,)* }
            }

            /// The severity every finding with this code has.
            pub fn severity(self) -> Severity {
                match self { $(Code::$variant => Severity::$sev,)* $(Code::$svariant => Severity::$ssev,)* }
            }

            /// One line saying what the code means (SARIF rule description, `--list-codes`).
            pub fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* $(Code::$svariant => $ssummary,)* }
            }

            /// Looks a code up by its name.
            pub fn from_name(name: &str) -> Option<Code> {
                match name { $($name => Some(Code::$variant),)* $($sname => Some(Code::$svariant),)* _ => None }
            }
        }
    };
}

codes! {
    // --- YAML dialect -----------------------------------------------------------------------
    /// The file is not valid YAML for HA's loader (PyYAML), or holds more than one document.
    YamlSyntax = "yaml-syntax", Error, "YAML syntax error: Home Assistant cannot load the file";
    /// Not UTF-8, or characters PyYAML refuses (control characters).
    YamlEncoding = "yaml-encoding", Error, "file is not UTF-8 text or contains characters YAML forbids";
    /// The same key twice in one mapping: HA keeps the last value and only logs a warning.
    YamlDuplicateKey = "yaml-duplicate-key", Warning, "duplicate key in a mapping: the earlier value is silently dropped";
    /// A mapping or list used as a key (often an unquoted `{{ ... }}`).
    YamlInvalidKey = "yaml-invalid-key", Error, "a mapping or list is used as a key (unquoted template?)";
    /// `<<:` merge of something that is not a mapping (`<<: !include x.yaml`).
    YamlMergeInvalid = "yaml-merge-invalid", Error, "merge key `<<` needs a mapping or a list of mappings (HA rejects `<<: !include`)";
    /// A tag HA's loader has no constructor for.
    YamlUnknownTag = "yaml-unknown-tag", Error, "YAML tag that Home Assistant does not know";
    /// `!include`, `!secret` etc. without an argument.
    TagMissingArgument = "tag-missing-argument", Error, "Home Assistant tag without an argument";
    /// `"!secret name"` in quotes: a plain string to HA, not the tag.
    YamlQuotedTag = "yaml-quoted-tag", Warning, "a Home Assistant tag inside quotes is plain text, not a tag";
    // --- includes ---------------------------------------------------------------------------
    /// `!include` of a file that does not exist.
    IncludeMissing = "include-missing", Error, "included file does not exist or cannot be read";
    /// A file includes itself, directly or through other files.
    IncludeCycle = "include-cycle", Error, "include cycle";
    /// `!include_dir_*` of a directory that does not exist (HA silently uses an empty value).
    IncludeDirMissing = "include-dir-missing", Info, "included directory does not exist: Home Assistant uses an empty value";
    /// A file in an included directory that HA silently skips.
    IncludeDirIgnoredFile = "include-dir-ignored-file", Warning, "file in an included directory is silently ignored by Home Assistant";
    /// Two files of a directory include give the same key; the later one wins silently.
    IncludeDirDuplicate = "include-dir-duplicate", Warning, "two files of a directory include define the same key: the later one wins";
    // --- secrets, env, blueprint inputs -----------------------------------------------------
    /// `!secret` name not in the secrets file(s) HA would read.
    SecretMissing = "secret-missing", Error, "secret is not defined in the secrets file Home Assistant would read";
    /// `!secret` that cannot be checked (no secrets file in the repository; placeholder mode).
    SecretUnresolved = "secret-unresolved", Info, "secret could not be checked: no secrets file (placeholder used)";
    /// `secrets.yaml` that HA cannot use.
    SecretFileInvalid = "secret-file-invalid", Error, "secrets file is not a mapping or cannot be loaded";
    /// `!env_var NAME` without default and not set in this environment.
    EnvVarMissing = "env-var-missing", Warning, "environment variable is not set and has no default";
    /// `!input` outside a blueprint.
    InputOutsideBlueprint = "input-outside-blueprint", Error, "`!input` is only substituted inside blueprints";
    // --- configuration structure --------------------------------------------------------------
    /// `configuration.yaml` (or a file that must be a mapping) is not a mapping.
    ConfigInvalid = "config-invalid", Error, "configuration is not a mapping";
    /// A top-level key that is not a valid integration domain (`Light:`, `hue :`).
    ConfigInvalidDomain = "config-invalid-domain", Error, "top-level key is not a valid integration domain";
    /// A top-level integration that neither HA nor `custom_components/` provides.
    ConfigUnknownIntegration = "config-unknown-integration", Warning, "integration not found in Home Assistant or custom_components";
    /// A package with an invalid name or definition.
    PackageInvalid = "package-invalid", Error, "invalid package: Home Assistant skips it";
    /// A package that cannot be merged into the configuration (duplicate key, wrong type).
    PackageConflict = "package-conflict", Error, "package cannot be merged: its configuration for this integration is dropped";
    /// `use_blueprint: path:` naming a blueprint that is not in `blueprints/<domain>/`.
    BlueprintMissing = "blueprint-missing", Error, "blueprint used by an automation or script does not exist";
    // --- templates --------------------------------------------------------------------------
    /// Jinja syntax error.
    TemplateSyntax = "template-syntax", Error, "template syntax error";
    /// Call of a function that does not exist in HA's template environment.
    TemplateUnknownFunction = "template-unknown-function", Error, "unknown template function: fails when rendered";
    /// Filter that does not exist in HA's template environment.
    TemplateUnknownFilter = "template-unknown-filter", Error, "unknown template filter: fails when rendered";
    /// Test that does not exist in HA's template environment.
    TemplateUnknownTest = "template-unknown-test", Error, "unknown template test: fails when rendered";
    /// A state-dependent function in a limited template (trigger_variables, MQTT trigger).
    TemplateLimited = "template-limited", Error, "function not available in limited templates";
    /// `{% import %}`/`{% from %}` of a file not in `custom_templates/`.
    TemplateImportMissing = "template-import-missing", Error, "imported template not found in custom_templates/";
    /// `{% from 'x.jinja' import m %}` where `x.jinja` defines no `m`.
    TemplateImportUnknown = "template-import-unknown", Error, "imported name is not defined by the template file";
    /// `.append()`/`.update()`… on a value HA's immutable sandbox refuses to change.
    TemplateMutation = "template-mutation", Warning, "mutating call refused by Home Assistant's immutable sandbox";
    /// A variable that looks like a misspelt context variable (`trigegr`).
    TemplateUnknownVariable = "template-unknown-variable", Warning, "unknown variable that looks like a misspelt one";
    // --- references -------------------------------------------------------------------------
    /// Referenced entity not in the supplied states nor defined in the configuration.
    EntityMissing = "entity-missing", Warning, "referenced entity does not exist in the supplied states";
    /// Offline: referenced entity not defined in YAML but very close to one that is.
    EntityUnknown = "entity-unknown", Info, "referenced entity is not defined in the configuration (did you mean…)";
    /// Referenced action not in the supplied services nor defined in the configuration.
    ActionMissing = "action-missing", Warning, "referenced action does not exist in the supplied services";
    /// Offline: a misspelt action of a built-in integration, or an undefined script.
    ActionUnknown = "action-unknown", Warning, "misspelt action, or a script/command the configuration does not define";
    /// Offline: an action the built-in integration does not have (removed or renamed in
    /// this HA version, or added by a custom integration such as Spook).
    ActionNotInCore = "action-not-in-core", Info, "action is not provided by the built-in integration (removed, or added by a custom integration)";
    /// An action HA moved to the integration's own domain (`media_player.kodi_call_method`).
    ActionMoved = "action-moved", Warning, "action no longer exists: the integration moved it to its own domain";
    /// Offline summary: references that could not be verified without `--states`.
    ReferencesUnverified = "references-unverified", Info, "references could not be verified offline";
    // --- legacy and deprecated syntax -------------------------------------------------------
    /// Legacy `platform: template` entities, removed from HA in 2026.6.
    LegacyTemplateEntity = "legacy-template-entity", Error, "legacy `platform: template` entity: removed from Home Assistant";
    /// `service:`/`service_template:` in actions (now `action:`).
    DeprecatedServiceKey = "deprecated-service-key", Info, "deprecated `service:` key: use `action:`";
    /// `data_template:` (now `data:`).
    DeprecatedDataTemplate = "deprecated-data-template", Info, "deprecated `data_template:`: use `data:`";
    /// `platform:` inside a trigger (now `trigger:`).
    DeprecatedTriggerPlatform = "deprecated-trigger-platform", Info, "deprecated `platform:` in a trigger: use `trigger:`";
    // --- custom components ------------------------------------------------------------------
    /// `custom_components/*/manifest.json` that HA refuses to load.
    ComponentManifestInvalid = "component-manifest-invalid", Error, "custom integration manifest that Home Assistant refuses";
    /// `manifest.json` without keys hassfest/HACS require.
    ComponentManifestIncomplete = "component-manifest-incomplete", Warning, "custom integration manifest misses keys hassfest and HACS require";
    // --- files ------------------------------------------------------------------------------
    /// YAML file not reachable from `configuration.yaml`: not checked as HA config.
    FileUnreachable = "file-unreachable", Info, "YAML file not reachable from configuration.yaml (not checked)";
    /// ESPHome configuration: a different YAML dialect, skipped.
    FileEsphome = "file-esphome", Info, "ESPHome configuration (different dialect), skipped";
    /// YAML that is itself a Jinja template (dwains_dashboard, lovelace_gen), skipped.
    FileJinjaYaml = "file-jinja-yaml", Info, "Jinja-preprocessed YAML (not YAML until rendered), skipped";

    @scan
    // --- scan: secrets (docs/scan.md; sources cited there and in src/scan/secrets.rs) ------
    /// A GitHub token (`ghp_`, `github_pat_`, `gho_`, `ghu_`, `ghs_`, `ghr_`).
    SecretGithubToken = "secret-github-token", Error, "GitHub token in the repository";
    /// A Home Assistant long-lived access token (HS256 JWT with HA's claims).
    SecretHaToken = "secret-ha-token", Error, "Home Assistant long-lived access token in the repository";
    /// Another JSON Web Token.
    SecretJwt = "secret-jwt", Warning, "JSON Web Token in the repository";
    /// A PEM or OpenSSH private key.
    SecretPrivateKey = "secret-private-key", Error, "private key in the repository";
    /// An AWS access key id.
    SecretAwsKey = "secret-aws-key", Error, "AWS access key in the repository";
    /// A Google API key (`AIza…`).
    SecretGoogleApiKey = "secret-google-api-key", Error, "Google API key in the repository";
    /// An Azure AD client secret or storage account key.
    SecretAzureKey = "secret-azure-key", Error, "Azure secret in the repository";
    /// A Slack webhook URL or token.
    SecretSlack = "secret-slack", Error, "Slack webhook or token in the repository";
    /// A Discord webhook URL.
    SecretDiscordWebhook = "secret-discord-webhook", Error, "Discord webhook URL in the repository";
    /// A Telegram bot token.
    SecretTelegramBotToken = "secret-telegram-bot-token", Error, "Telegram bot token in the repository";
    /// A Pushover application token or user key.
    SecretPushoverKey = "secret-pushover-key", Error, "Pushover key in the repository";
    /// A password inside a URL (`mqtt://user:pass@host`).
    SecretUrlPassword = "secret-url-password", Error, "password inside a URL";
    /// A literal value under a secret-like key where HA offers `!secret`.
    SecretInline = "secret-inline", Warning, "credential written inline: use `!secret`";
    /// A literal `webhook_id` (the only credential of a webhook trigger).
    SecretInlineWebhookId = "secret-inline-webhook-id", Info, "webhook id written inline: anyone who reads it can trigger the automation";
    /// `secrets.yaml` is tracked by git.
    SecretFileTracked = "secret-file-tracked", Error, "secrets.yaml is committed to git";
    /// `secrets.yaml` is neither tracked nor ignored: the next `git add .` commits it.
    SecretFileUnignored = "secret-file-unignored", Warning, "secrets.yaml is not git-ignored";
    /// A secret found in an earlier commit (`--history`).
    SecretInHistory = "secret-in-history", Error, "secret in the git history (leaked even if removed since)";
    // --- scan: Home Assistant settings ---------------------------------------------------
    /// `use_x_forwarded_for` without `trusted_proxies`.
    HttpForwardedWithoutProxies = "http-forwarded-without-proxies", Error, "`use_x_forwarded_for` without `trusted_proxies`";
    /// `trusted_proxies` covering every address or public ranges.
    HttpTrustedProxiesAll = "http-trusted-proxies-all", Error, "`trusted_proxies` trusts every address";
    /// `cors_allowed_origins` of `*`.
    HttpCorsWildcard = "http-cors-wildcard", Warning, "`cors_allowed_origins` allows every origin";
    /// `ip_ban_enabled: false` or `login_attempts_threshold: -1` set explicitly.
    HttpIpBanDisabled = "http-ip-ban-disabled", Warning, "automatic IP bans after failed logins are turned off";
    /// Legacy `api_password` (http or auth provider).
    HttpApiPassword = "http-api-password", Error, "legacy API password: removed from Home Assistant";
    /// `ssl_certificate` without `ssl_key` (or the reverse).
    HttpSslIncomplete = "http-ssl-incomplete", Error, "`ssl_certificate` and `ssl_key` must be set together";
    /// `trusted_networks` auth provider over wide or public networks.
    AuthTrustedNetworksWide = "auth-trusted-networks-wide", Error, "`trusted_networks` logs in without password from wide or public networks";
    /// `allowlist_external_dirs` containing `/`.
    HaAllowlistRoot = "ha-allowlist-root", Error, "`allowlist_external_dirs` allows the whole file system";
    /// A shell command built from templates of states, trigger or call data.
    HaCommandTemplate = "ha-command-template", Warning, "shell command built from templated, possibly untrusted data";
    /// A webhook trigger reachable from the internet (`local_only: false`).
    HaWebhookPublic = "ha-webhook-public", Warning, "webhook trigger accepts requests from the internet";
    /// `http://` URL carrying credentials (userinfo or a token parameter).
    HaPlaintextCredentials = "ha-plaintext-credentials", Warning, "credentials sent over plain HTTP";
    // --- scan: GitHub workflows ----------------------------------------------------------
    /// Untrusted event data expanded inside `run:` or `script:`.
    WorkflowTemplateInjection = "workflow-template-injection", Error, "untrusted input expanded in a script: command injection";
    /// `pull_request_target`/`workflow_run` checking out the pull request's code.
    WorkflowPrTargetCheckout = "workflow-pr-target-checkout", Error, "privileged trigger checks out untrusted pull request code";
    /// `uses:` not pinned to a full commit SHA.
    WorkflowUnpinnedAction = "workflow-unpinned-action", Warning, "action not pinned to a full commit SHA";
    /// `permissions: write-all`.
    WorkflowPermissionsWriteAll = "workflow-permissions-write-all", Warning, "`permissions: write-all`";
    /// No `permissions:` for the workflow or a job.
    WorkflowPermissionsMissing = "workflow-permissions-missing", Info, "no `permissions:`: the token gets the repository's default";
    /// `secrets: inherit` to a reusable workflow.
    WorkflowSecretsInherit = "workflow-secrets-inherit", Warning, "`secrets: inherit` passes every secret";
    /// `actions/checkout` leaves the token on disk in a job that uploads artifacts.
    WorkflowCheckoutCredentials = "workflow-checkout-credentials", Warning, "checkout persists credentials in a job that uploads artifacts";
    /// A self-hosted runner reachable by pull requests.
    WorkflowSelfHostedPr = "workflow-self-hosted-pr", Warning, "self-hosted runner runs pull request code";
    // --- scan: dependencies --------------------------------------------------------------
    /// An action known to be compromised (built-in list, or OSV `MAL-` advisories).
    DependencyCompromised = "dependency-compromised", Error, "known-compromised action";
    /// A dependency with known vulnerabilities (OSV.dev).
    DependencyVulnerable = "dependency-vulnerable", Warning, "dependency with known vulnerabilities (OSV)";
    /// Dependencies that could not be looked up (offline, OSV unreachable).
    DependencyUnchecked = "dependency-unchecked", Info, "dependencies not checked against OSV";
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl Serialize for Code {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_round_trip() {
        let mut seen = std::collections::HashSet::new();
        for &c in Code::ALL.iter().chain(Code::SCAN) {
            assert!(seen.insert(c.name()), "duplicate code name {}", c.name());
            assert_eq!(Code::from_name(c.name()), Some(c));
            assert!(
                c.name()
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '-')
            );
        }
    }
}
