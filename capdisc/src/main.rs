use clap::Parser;

fn main() {
    let cli = capdisc::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("capdisc: error: cannot start the runtime: {err}");
            std::process::exit(1);
        }
    };
    let code = match runtime.block_on(cli.run()) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("capdisc: error: {err}");
            err.exit_code()
        }
    };
    std::process::exit(code);
}
