package io.jublk.spi;

/**
 * What was asked for cannot be served: a bad option, a backing file that does not exist or is of the wrong
 * kind, a recorded device whose file has changed. Its message is one line for the user and says what to do
 * where that is known; the CLI prints it as it is (exit status 2).
 */
public class ConfigException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigException(String message) {
        super(message);
    }
}
