//! The command line: `serve`, `migrate` and `config`.
//!
//! Flags are read as text and folded into the configuration by
//! `vigor_common::config::load`, so a bad value is reported the same way whether it
//! came from a flag, a `VIGOR_*` variable or the file: one line naming the key, and
//! exit code 2.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use vigor_common::config::{self, Config, KEYS};

/// Vigor, the open social fitness platform.
#[derive(Debug, Parser)]
#[command(name = "vigor", version, about, propagate_version = true)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run a target: everything in one process by default.
    Serve(ServeArgs),
    /// Apply every service's pending database migrations, then exit.
    Migrate(CommonArgs),
    /// Administer a deployment: OAuth clients, signing keys, users, dead-lettered events.
    Admin {
        #[command(flatten)]
        common: CommonArgs,
        #[command(subcommand)]
        command: crate::admin::AdminCommand,
    },
    /// Take an online, consistent backup of every embedded store (SQLite) while
    /// Vigor serves, with a manifest of checksums.
    Backup {
        #[command(flatten)]
        common: CommonArgs,
        /// The new (or empty) directory to write the backup into.
        #[arg(long, value_name = "DIR")]
        to: PathBuf,
    },
    /// Restore a backup into a new data directory, after checking every file
    /// against its manifest (a damaged or partial backup is refused).
    Restore {
        /// The backup directory (made by `vigor backup`).
        #[arg(long, value_name = "DIR")]
        from: PathBuf,
        /// The new (or empty) data directory to restore into.
        #[arg(long, value_name = "NEW")]
        data_dir: PathBuf,
    },
    /// Inspect the configuration.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// List every configuration key with its environment variable, default and meaning.
    Keys {
        /// Print only the environment variable names, one per line.
        #[arg(long)]
        env_only: bool,
        /// Print the Markdown table of the README's configuration section.
        #[arg(long, conflicts_with = "env_only")]
        markdown: bool,
    },
    /// Check the configuration and print it as TOML (secrets in URLs redacted).
    Check(CommonArgs),
}

/// Flags every command that reads the configuration takes.
#[derive(Debug, Args)]
struct CommonArgs {
    /// TOML configuration file [env: VIGOR_CONFIG].
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Directory for embedded storage [env: VIGOR_DATA_DIR] [default: ./data].
    #[arg(long, value_name = "DIR")]
    data_dir: Option<String>,
}

#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: CommonArgs,
    /// What to run: all, gateway, auth, users, training, social, gamification,
    /// leaderboards [env: VIGOR_TARGET] [default: all].
    #[arg(long, value_name = "TARGET")]
    target: Option<String>,
    /// Address to listen on [env: VIGOR_LISTEN] [default: 127.0.0.1:8080].
    #[arg(long, value_name = "ADDR")]
    listen: Option<String>,
    /// Node id for ids, unique per process (0-1023) [env: VIGOR_NODE_ID] [default: 0].
    #[arg(long, value_name = "N")]
    node_id: Option<String>,
    /// PEM certificate chain for HTTPS [env: VIGOR_TLS_CERT].
    #[arg(long, value_name = "FILE")]
    tls_cert: Option<String>,
    /// PEM private key for HTTPS [env: VIGOR_TLS_KEY].
    #[arg(long, value_name = "FILE")]
    tls_key: Option<String>,
    /// Serve HTTPS with a fresh self-signed certificate, for development
    /// [env: VIGOR_TLS_SELF_SIGNED].
    #[arg(long)]
    tls_self_signed: bool,
    /// Redis URL for the bus, broker and rate limits [env: VIGOR_REDIS_URL].
    #[arg(long, value_name = "URL")]
    redis_url: Option<String>,
    /// Log filter, e.g. info or vigor_gateway=debug [env: VIGOR_LOG_LEVEL].
    #[arg(long, value_name = "FILTER")]
    log_level: Option<String>,
    /// Log format: text or json [env: VIGOR_LOG_FORMAT].
    #[arg(long, value_name = "FORMAT")]
    log_format: Option<String>,
}

/// Runs the parsed command.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Config {
            command: ConfigCommand::Keys { env_only, markdown },
        } => {
            print_keys(env_only, markdown);
            ExitCode::SUCCESS
        }
        Command::Config {
            command: ConfigCommand::Check(args),
        } => with_config(&args, Vec::new(), |config| {
            let shown = redacted(&config);
            print!("{}", toml::to_string(&shown).unwrap_or_default());
            Ok(())
        }),
        Command::Migrate(args) => with_config(&args, Vec::new(), |config| {
            runtime()?.block_on(crate::serve::migrate(config))
        }),
        Command::Backup { common, to } => with_config(&common, Vec::new(), |config| {
            runtime()?.block_on(crate::backup::backup(&config, &to))?;
            println!("backup written to {}", to.display());
            Ok(())
        }),
        Command::Restore { from, data_dir } => match crate::backup::restore(&from, &data_dir) {
            Ok(()) => {
                println!("restored {} into {}", from.display(), data_dir.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("vigor: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Admin { common, command } => with_config(&common, Vec::new(), |config| {
            runtime()?.block_on(crate::admin::run(config, command))
        }),
        Command::Serve(args) => {
            let mut flags = Vec::new();
            let mut flag = |key: &'static str, name: &'static str, value: &Option<String>| {
                if let Some(v) = value {
                    flags.push((key, name, v.clone()));
                }
            };
            flag("target", "--target", &args.target);
            flag("listen", "--listen", &args.listen);
            flag("node_id", "--node-id", &args.node_id);
            flag("tls.cert", "--tls-cert", &args.tls_cert);
            flag("tls.key", "--tls-key", &args.tls_key);
            flag("redis.url", "--redis-url", &args.redis_url);
            flag("log.level", "--log-level", &args.log_level);
            flag("log.format", "--log-format", &args.log_format);
            if args.tls_self_signed {
                flags.push(("tls.self_signed", "--tls-self-signed", "true".to_owned()));
            }
            with_config(&args.common, flags, |config| {
                runtime()?.block_on(crate::serve::serve(config))
            })
        }
    }
}

/// Loads the configuration (exit 2 with one line when invalid) and runs `f` (exit 1
/// with the error chain when it fails).
fn with_config(
    args: &CommonArgs,
    mut flags: Vec<(&'static str, &'static str, String)>,
    f: impl FnOnce(Config) -> anyhow::Result<()>,
) -> ExitCode {
    if let Some(dir) = &args.data_dir {
        flags.push(("data_dir", "--data-dir", dir.clone()));
    }
    let file = args
        .config
        .clone()
        .or_else(|| std::env::var_os(config::CONFIG_FILE_ENV).map(PathBuf::from));
    let config = match config::load(file.as_deref(), std::env::vars(), &flags) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("vigor: {e}");
            return ExitCode::from(2);
        }
    };
    for unknown in config::unknown_env_vars(std::env::vars()) {
        eprintln!(
            "vigor: warning: {unknown} is not a configuration variable (see `vigor config keys`)"
        );
    }
    match f(config) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("vigor: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

fn print_keys(env_only: bool, markdown: bool) {
    if markdown {
        println!("| key | environment | kind | default | meaning |");
        println!("|---|---|---|---|---|");
        for key in KEYS {
            let kind = match key.kind {
                config::Kind::Str => "text",
                config::Kind::Int => "integer",
                config::Kind::Bool => "boolean",
                config::Kind::List => "list",
            };
            let default = if key.default.is_empty() {
                "—".to_owned()
            } else {
                format!("`{}`", key.default)
            };
            println!(
                "| `{}` | `{}` | {kind} | {default} | {} |",
                key.path,
                key.env(),
                key.doc
            );
        }
        return;
    }
    if env_only {
        for name in config::env_vars() {
            println!("{name}");
        }
        return;
    }
    println!(
        "{:<34} {:<28} {:<30} MEANING",
        "KEY", "ENVIRONMENT", "DEFAULT"
    );
    println!(
        "{:<34} {:<28} {:<30} TOML configuration file (--config)",
        "-",
        config::CONFIG_FILE_ENV,
        ""
    );
    for key in KEYS {
        println!(
            "{:<34} {:<28} {:<30} {}",
            key.path,
            key.env(),
            key.default,
            key.doc
        );
    }
}

fn redacted(config: &Config) -> Config {
    let mut shown = config.clone();
    let redact = |url: &mut Option<String>| {
        if let Some(u) = url {
            *u = vigor_common::db::redact(u);
        }
    };
    redact(&mut shown.redis.url);
    redact(&mut shown.auth.database_url);
    if shown.auth.key_encryption_key().is_some() {
        shown.auth.key_encryption_key = Some("<redacted>".to_owned());
    }
    for section in [&mut shown.users, &mut shown.training] {
        redact(&mut section.database_url);
        redact(&mut section.database_read_url);
    }
    redact(&mut shown.social.database_url);
    redact(&mut shown.gamification.database_url);
    redact(&mut shown.gamification.database_read_url);
    shown
}
