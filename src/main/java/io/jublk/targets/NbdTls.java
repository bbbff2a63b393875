package io.jublk.targets;

import io.jublk.spi.ConfigException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.ArrayList;
import java.util.Base64;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SNIHostName;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.TrustManagerFactory;

/**
 * TLS to an NBD server (NBD_OPT_STARTTLS), with Java's own TLS (JSSE's {@link SSLEngine}): the server's certificate
 * chain is checked against {@code --tls-ca} (the JDK's trusted authorities without it), its name against
 * {@code --tls-hostname} (the host given with {@code --host} without it; with a Unix socket and no
 * {@code --tls-hostname}, only the chain), and a client certificate is shown when the server asks for one
 * ({@code --tls-cert}, {@code --tls-key}). The files are read once, when the device is added or recovered.
 */
public final class NbdTls {
    /**
     * What the device record keeps: the files (absolute paths) and the name to check.
     *
     * @param ca       PEM certificate(s) of the authorities to trust, or null for the JDK's
     * @param cert     the client's PEM certificate chain, or null
     * @param key      the client's private key, PEM PKCS#8 unencrypted, or null
     * @param hostname the name the server's certificate must carry, or null
     */
    public record Spec(String ca, String cert, String key, String hostname) {}

    private static final Pattern PEM = Pattern.compile("-----BEGIN ([A-Z0-9 ]+)-----([^-]*)-----END \\1-----");

    private final SSLContext context;
    private final String hostname;

    private NbdTls(SSLContext context, String hostname) {
        this.context = context;
        this.hostname = hostname;
    }

    /** Reads the files of {@code spec}; ConfigException with one line naming the file when one is not usable. */
    public static NbdTls load(Spec spec, NbdAddress address) {
        if ((spec.cert() == null) != (spec.key() == null)) {
            throw new ConfigException("--tls-cert and --tls-key go together: a client certificate needs its key");
        }
        try {
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            if (spec.ca() == null) {
                tmf.init((KeyStore) null);
            } else {
                KeyStore trust = KeyStore.getInstance("PKCS12");
                trust.load(null, null);
                int i = 0;
                for (Certificate c : certificates(spec.ca(), "--tls-ca")) {
                    trust.setCertificateEntry("ca" + i++, c);
                }
                tmf.init(trust);
            }
            KeyManagerFactory kmf = null;
            if (spec.cert() != null) {
                List<Certificate> chain = certificates(spec.cert(), "--tls-cert");
                KeyStore keys = KeyStore.getInstance("PKCS12");
                keys.load(null, null);
                char[] none = new char[0];
                keys.setKeyEntry("client", privateKey(spec.key()), none, chain.toArray(Certificate[]::new));
                kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
                kmf.init(keys, none);
            }
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
            String name = spec.hostname() != null ? spec.hostname() : address.unix() ? null : address.host();
            return new NbdTls(ctx, name);
        } catch (GeneralSecurityException | IOException e) {
            throw new ConfigException("TLS for the NBD server at " + address + ": " + e.getMessage());
        }
    }

    /** A client engine for one connection, checking the server's name where there is one to check. */
    SSLEngine engine(NbdAddress address) {
        SSLEngine e = hostname != null ? context.createSSLEngine(hostname, address.port())
                : context.createSSLEngine();
        e.setUseClientMode(true);
        SSLParameters p = e.getSSLParameters();
        if (hostname != null) {
            p.setEndpointIdentificationAlgorithm("HTTPS");
            if (!ipLiteral(hostname)) {
                p.setServerNames(List.of(new SNIHostName(hostname)));
            }
        }
        e.setSSLParameters(p);
        return e;
    }

    /** The name the server's certificate is checked against, or null (then the chain only). */
    String hostname() {
        return hostname;
    }

    private static boolean ipLiteral(String h) {
        return h.matches("[0-9.]+") || h.contains(":");
    }

    private static List<Certificate> certificates(String file, String option) {
        try (InputStream in = Files.newInputStream(Path.of(file))) {
            Collection<? extends Certificate> all = CertificateFactory.getInstance("X.509").generateCertificates(in);
            if (all.isEmpty()) {
                throw new ConfigException(option + " " + file + ": no PEM certificate in it");
            }
            return new ArrayList<>(all);
        } catch (IOException e) {
            throw new ConfigException(option + " " + file + ": cannot read it (" + e.getMessage() + ")");
        } catch (GeneralSecurityException e) {
            throw new ConfigException(option + " " + file + ": not a PEM certificate (" + e.getMessage() + ")");
        }
    }

    /** An unencrypted PKCS#8 key ("BEGIN PRIVATE KEY") of any algorithm the JDK knows. */
    private static PrivateKey privateKey(String file) {
        String text;
        try {
            text = Files.readString(Path.of(file), StandardCharsets.US_ASCII);
        } catch (IOException e) {
            throw new ConfigException("--tls-key " + file + ": cannot read it (" + e.getMessage() + ")");
        }
        Matcher m = PEM.matcher(text);
        if (!m.find()) {
            throw new ConfigException("--tls-key " + file + ": no PEM key in it");
        }
        String kind = m.group(1);
        if (!kind.equals("PRIVATE KEY")) {
            throw new ConfigException("--tls-key " + file + ": a '" + kind + "', not an unencrypted PKCS#8 'PRIVATE "
                    + "KEY' (convert it: openssl pkcs8 -topk8 -nocrypt -in " + file + " -out KEY.pem)");
        }
        byte[] der;
        try {
            der = Base64.getMimeDecoder().decode(m.group(2));
        } catch (IllegalArgumentException e) {
            throw new ConfigException("--tls-key " + file + ": its PEM body is not base64");
        }
        for (String alg : List.of("RSA", "EC", "Ed25519", "Ed448", "RSASSA-PSS")) {
            try {
                return KeyFactory.getInstance(alg).generatePrivate(new PKCS8EncodedKeySpec(der));
            } catch (GeneralSecurityException e) {
                // not this algorithm: try the next
            }
        }
        throw new ConfigException("--tls-key " + file + ": a key of an algorithm Java does not know (RSA, EC, "
                + "Ed25519 and Ed448 work)");
    }
}
