//! `natter`: the one binary. `natter serve` runs a node; `natter migrate` runs migrations;
//! `natter admin …` does first set-up from scripts.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Parser, Subcommand};
use natter_core::config::Config;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(name = "natter", version, about = "Self-hosted real-time messaging")]
struct Cli {
    /// A TOML configuration file (NATTER_* environment variables override it).
    #[arg(long, global = true, env = "NATTER_CONFIG")]
    config: Option<String>,
    /// Where natter keeps its files (overrides data_dir).
    #[arg(long, global = true)]
    data_dir: Option<String>,
    /// Log format: text or json (overrides log_format).
    #[arg(long, global = true)]
    log_format: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a node: HTTP API, WebSocket gateway, web apps.
    Serve {
        /// Address to listen on (overrides listen), e.g. 0.0.0.0:8080 or 127.0.0.1:0.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Administrative tasks for scripts and first set-up.
    #[command(subcommand)]
    Admin(Admin),
}

#[derive(Subcommand)]
enum Admin {
    /// Create a workspace with an owner; prints JSON with the owner's API token.
    CreateWorkspace {
        #[arg(long)]
        name: String,
        #[arg(long)]
        owner_email: String,
    },
    /// Issue a new API token for a staff account; prints JSON with the token.
    CreateToken {
        #[arg(long)]
        email: String,
        /// Needed when the email has staff accounts in several workspaces.
        #[arg(long)]
        workspace_id: Option<i64>,
        #[arg(long, default_value = "command line")]
        name: String,
    },
    /// Create a staff account that signs in with a password read from standard input (one
    /// line); prints JSON with the account.
    CreateUser {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "agent")]
        role: String,
        #[arg(long)]
        name: Option<String>,
        /// Needed when there are several workspaces.
        #[arg(long)]
        workspace_id: Option<i64>,
    },
    /// Delete durable events older than realtime.event_retention_hours now (a node also
    /// does this hourly); prints JSON with how many were deleted.
    PruneEvents,
}

fn load_config(cli: &Cli, listen: Option<&String>) -> anyhow::Result<Config> {
    let file = cli
        .config
        .as_ref()
        .map(|path| std::fs::read_to_string(path).with_context(|| format!("reading {path}")))
        .transpose()?;
    let mut config = Config::load(file.as_deref(), std::env::vars())?;
    if let Some(dir) = &cli.data_dir {
        config.data_dir.clone_from(dir);
    }
    if let Some(format) = &cli.log_format {
        config.log_format.clone_from(format);
    }
    if let Some(listen) = listen {
        config.listen.clone_from(listen);
    }
    // Re-validate after command-line overrides.
    Config::load(Some(&toml::to_string(&config)?), std::iter::empty())?;
    Ok(config)
}

fn init_logging(config: &Config) {
    let filter = EnvFilter::try_from_env("NATTER_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

async fn admin(config: Config, command: Admin) -> anyhow::Result<()> {
    let store = natter_server::open_store(&config).await?;
    store.migrate().await?;
    let app = natter_server::app::App::new(store, config).await?;
    let output = match command {
        Admin::CreateWorkspace { name, owner_email } => {
            let (owner, token) = app
                .bootstrap_workspace(&name, &owner_email)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            serde_json::json!({
                "workspace_id": owner.workspace_id,
                "account_id": owner.id,
                "token": token,
            })
        }
        Admin::CreateToken {
            email,
            workspace_id,
            name,
        } => {
            let matches = app
                .store
                .staff_by_email(&email)
                .await
                .map_err(|e| anyhow::anyhow!("{e}"))?;
            let account = match (workspace_id, matches.as_slice()) {
                (Some(w), all) => all.iter().find(|a| a.workspace_id.0 == w),
                (None, [one]) => Some(one),
                (None, []) => None,
                (None, _) => {
                    anyhow::bail!("{email} is staff in several workspaces; pass --workspace-id")
                }
            }
            .with_context(|| format!("no active staff account {email}"))?
            .clone();
            let token = app
                .create_api_token(
                    &account,
                    account.id,
                    &name,
                    &natter_server::auth::Scope::ALL,
                )
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            serde_json::json!({
                "workspace_id": account.workspace_id,
                "account_id": account.id,
                "token": token,
            })
        }
        Admin::CreateUser {
            email,
            role,
            name,
            workspace_id,
        } => {
            let role = natter_core::model::StaffRole::parse(&role)
                .with_context(|| format!("role must be owner, admin or agent, not {role:?}"))?;
            let workspace = match workspace_id {
                Some(w) => natter_core::WorkspaceId(w),
                None => {
                    let ids = app
                        .store
                        .workspace_ids()
                        .await
                        .map_err(|e| anyhow::anyhow!("{e}"))?;
                    match ids.as_slice() {
                        [only] => *only,
                        _ => {
                            anyhow::bail!("there are {} workspaces; pass --workspace-id", ids.len())
                        }
                    }
                }
            };
            let mut password = String::new();
            std::io::stdin()
                .read_line(&mut password)
                .context("reading the password from standard input")?;
            let password = password.trim_end_matches(['\r', '\n']);
            let account = app
                .create_user_with_password(workspace, &email, name, role, password)
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            serde_json::to_value(&account)?
        }
        Admin::PruneEvents => {
            let deleted = app
                .prune_events()
                .await
                .map_err(|e| anyhow::anyhow!("{}", e.message))?;
            serde_json::json!({ "deleted": deleted })
        }
    };
    println!("{output}");
    app.store.close().await;
    Ok(())
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let listen = match &cli.command {
        Command::Serve { listen } => listen.clone(),
        _ => None,
    };
    let config = match load_config(&cli, listen.as_ref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("natter: {e:#}");
            return ExitCode::from(2);
        }
    };
    init_logging(&config);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("natter: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { .. } => natter_server::serve(config).await,
            Command::Migrate => natter_server::migrate(&config).await,
            Command::Admin(command) => admin(config, command).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!("{e:#}");
            eprintln!("natter: {e:#}");
            ExitCode::FAILURE
        }
    }
}
