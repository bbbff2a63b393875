package io.jublk.uring;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class UserDataTest {
    @Test
    void everyFieldRoundTrips() {
        SplittableRandom rnd = new SplittableRandom(20261125);
        for (int i = 0; i < 100_000; i++) {
            int tag = rnd.nextInt(0x10000);
            int kind = rnd.nextInt(0x100);
            int sub = rnd.nextInt(0x100);
            int data = rnd.nextInt();
            long ud = UserData.encode(tag, kind, sub, data);
            assertEquals(tag, UserData.tag(ud));
            assertEquals(kind, UserData.kind(ud));
            assertEquals(sub, UserData.sub(ud));
            assertEquals(data, UserData.data(ud));
        }
    }

    @Test
    void extremesDoNotBleedIntoNeighbours() {
        long ud = UserData.encode(0xffff, 0, 0, 0);
        assertEquals(0, UserData.kind(ud));
        ud = UserData.encode(0, 0xff, 0, 0);
        assertEquals(0, UserData.tag(ud));
        assertEquals(0, UserData.sub(ud));
        ud = UserData.encode(0, 0, 0, -1);
        assertEquals(0, UserData.tag(ud));
        assertEquals(-1, UserData.data(ud));
        assertEquals(0xffff_ffff_0000_0000L, ud);
    }

    @Test
    void theLayoutIsAsDocumented() {
        assertEquals(0x0403_0201_0605_0807L, UserData.encode(0x0807, 0x05, 0x06, 0x04030201));
    }

    @Test
    void aTokenRoundTripsBesideItsKind() {
        SplittableRandom rnd = new SplittableRandom(20261201);
        for (long token : new long[] {0, 1, 0xffff, 0x10000, UserData.MAX_TOKEN}) {
            long ud = UserData.encodeToken(0xff, token);
            assertEquals(token, UserData.token(ud));
            assertEquals(0xff, UserData.kind(ud));
        }
        for (int i = 0; i < 100_000; i++) {
            long token = rnd.nextLong(UserData.MAX_TOKEN + 1);
            int kind = rnd.nextInt(0x100);
            long ud = UserData.encodeToken(kind, token);
            assertEquals(token, UserData.token(ud));
            assertEquals(kind, UserData.kind(ud));
        }
    }
}
