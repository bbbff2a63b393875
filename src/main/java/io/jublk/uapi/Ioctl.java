package io.jublk.uapi;

/** Linux's generic ioctl number encoding ({@code asm-generic/ioctl.h}): dir:2 size:14 type:8 nr:8. */
public final class Ioctl {
    private Ioctl() {}

    private static final int NRSHIFT = 0;
    private static final int TYPESHIFT = 8;
    private static final int SIZESHIFT = 16;
    private static final int DIRSHIFT = 30;
    private static final int WRITE = 1;
    private static final int READ = 2;

    public static int ioc(int dir, int type, int nr, long size) {
        return (dir << DIRSHIFT) | (type << TYPESHIFT) | (nr << NRSHIFT) | ((int) size << SIZESHIFT);
    }

    public static int ior(char type, int nr, long size) {
        return ioc(READ, type, nr, size);
    }

    public static int iow(char type, int nr, long size) {
        return ioc(WRITE, type, nr, size);
    }

    public static int iowr(char type, int nr, long size) {
        return ioc(READ | WRITE, type, nr, size);
    }

    public static int io(char type, int nr) {
        return ioc(0, type, nr, 0);
    }
}
