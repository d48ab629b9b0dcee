#include "machine/log.h"
#include "machine/machine.h"
#include "machine/options.h"
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <stdexcept>

int main(int argc, char** argv) {
    using namespace hayate;
    ParseResult parsed = parse_command_line(argc, argv);
    if (!parsed.options) {
        std::string text = parsed.message;
        if (!text.empty() && text.back() != '\n') text += '\n';
        std::fputs(text.c_str(), parsed.status ? stderr : stdout);
        return parsed.status;
    }
    const MachineOptions& options = *parsed.options;

    log_config().mask = options.log_mask;
    std::FILE* log_file = nullptr;
    if (!options.log_file.empty()) {
        log_file = std::fopen(options.log_file.c_str(), "w");
        if (!log_file) {
            std::fprintf(stderr, "hayate: -D %s: cannot open: %s\n", options.log_file.c_str(),
                         strerror(errno));
            return 1;
        }
        // Line buffered, so the log is complete up to a crash or a kill.
        std::setvbuf(log_file, nullptr, _IOLBF, 0);
        log_config().out = log_file;
    }

    int status;
    try {
        Machine machine(options);
        status = machine.run();
    } catch (const std::runtime_error& e) {
        std::fprintf(stderr, "hayate: %s\n", e.what());
        status = 1;
    }
    if (log_file) {
        log_config().out = stderr;
        std::fclose(log_file);
    }
    return status;
}
