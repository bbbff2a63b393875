package io.jublk.cli;

import io.jublk.ctrl.NodeHandover;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

/**
 * Hidden: run by udev (jublk's rules, {@code dist/udev/70-jublk-unprivileged.rules}) as root for each add or change of a ublk node; gives the nodes of
 * an unprivileged device to the user the kernel says owns it ({@link NodeHandover}). Prints what it changed.
 */
@Command(name = UdevOwnerCommand.NAME, hidden = true)
final class UdevOwnerCommand implements Callable<Integer> {
    static final String NAME = "__udev-owner";

    @Parameters(paramLabel = "NAME", description = "The node's kernel name (udev's %k): ublkcN, ublkbN or ublkbNpM.")
    String kernelName;

    @Override
    public Integer call() {
        NodeHandover.handOver(kernelName).ifPresent(System.out::println);
        return 0;
    }
}
