// An Iceberg REST catalog on 127.0.0.1 for planning, as strict as Lakekeeper where a misspelt catalog option would
// otherwise pass: the token only at the configured path, for the client-credentials grant with the configured scope;
// the config only for the configured warehouse; every catalog call with the bearer token and the remote-signing
// delegation header. Behind it Iceberg's own CatalogHandlers over an InMemoryCatalog, so the INSERT is planned
// against the table the script's CREATE TABLE made. In this package for RESTObjectMapper.mapper().

package org.apache.iceberg.rest;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.apache.iceberg.catalog.Namespace;
import org.apache.iceberg.catalog.TableIdentifier;
import org.apache.iceberg.exceptions.AlreadyExistsException;
import org.apache.iceberg.exceptions.NoSuchNamespaceException;
import org.apache.iceberg.exceptions.NoSuchTableException;
import org.apache.iceberg.inmemory.InMemoryCatalog;
import org.apache.iceberg.rest.requests.CreateNamespaceRequest;
import org.apache.iceberg.rest.requests.CreateTableRequest;
import org.apache.iceberg.rest.responses.ConfigResponse;
import org.apache.iceberg.rest.responses.ErrorResponse;

public class StandIn {
    static final String TOKEN = "stand-in-token";
    static final String CATALOG = "/catalog/v1/";
    public final List<String> log = Collections.synchronizedList(new ArrayList<>());
    private final InMemoryCatalog backend = new InMemoryCatalog();
    private final HttpServer server;
    private final String tokenPath;
    private final String warehouse;
    private final String scope;

    public StandIn(int port, String tokenPath, String warehouse, String scope) throws IOException {
        this.tokenPath = tokenPath;
        this.warehouse = warehouse;
        this.scope = scope;
        backend.initialize("lake", Map.of("warehouse", "memory://" + warehouse));
        server = HttpServer.create(new InetSocketAddress("127.0.0.1", port), 0);
        server.createContext("/", this::handle);
        server.start();
    }

    public void stop() {
        server.stop(0);
    }

    private void handle(HttpExchange exchange) throws IOException {
        String method = exchange.getRequestMethod();
        String path = exchange.getRequestURI().getPath();
        String query = String.valueOf(exchange.getRequestURI().getQuery());
        String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
        log.add(method + " " + exchange.getRequestURI());
        Object out;
        int code = 200;
        try {
            if (path.equals(tokenPath) && method.equals("POST")) {
                Map<String, String> form = form(body);
                if (!"client_credentials".equals(form.get("grant_type")) || !scope.equals(form.get("scope"))) {
                    throw new IllegalArgumentException("token: want the client_credentials grant for scope " + scope
                        + ", got " + form.keySet() + " scope=" + form.get("scope"));
                }
                out = Map.of("access_token", TOKEN, "token_type", "bearer", "expires_in", 3600,
                    "issued_token_type", "urn:ietf:params:oauth:token-type:access_token");
            } else if (!path.startsWith(CATALOG)) {
                code = 404;
                out = error(404, "NoSuchRouteException", method + " " + path);
            } else {
                out = catalog(exchange, method, path.substring(CATALOG.length()), query, body);
                code = out == null ? 204 : 200;
            }
        } catch (SecurityException e) {
            code = 401;
            out = error(401, "NotAuthorizedException", e.getMessage());
        } catch (AlreadyExistsException e) {
            code = 409;
            out = error(409, "AlreadyExistsException", e.getMessage());
        } catch (NoSuchNamespaceException | NoSuchTableException e) {
            code = 404;
            out = error(404, e.getClass().getSimpleName(), e.getMessage());
        } catch (RuntimeException e) {
            code = 400;
            out = error(400, "BadRequestException", e.getMessage());
        }
        byte[] bytes = out == null ? new byte[0] : RESTObjectMapper.mapper().writeValueAsBytes(out);
        exchange.getResponseHeaders().add("Content-Type", "application/json");
        exchange.sendResponseHeaders(code, bytes.length == 0 ? -1 : bytes.length);
        if (bytes.length > 0) {
            try (OutputStream stream = exchange.getResponseBody()) {
                stream.write(bytes);
            }
        }
        exchange.close();
    }

    private Object catalog(HttpExchange exchange, String method, String route, String query, String body)
            throws IOException {
        if (!("Bearer " + TOKEN).equals(exchange.getRequestHeaders().getFirst("Authorization"))) {
            throw new SecurityException("no bearer token from the configured token endpoint");
        }
        if (!"remote-signing".equals(exchange.getRequestHeaders().getFirst("X-Iceberg-Access-Delegation"))) {
            throw new IllegalArgumentException("want X-Iceberg-Access-Delegation: remote-signing");
        }
        if (route.equals("config")) {
            if (!form(query).getOrDefault("warehouse", "").equals(warehouse)) {
                throw new IllegalArgumentException("no warehouse " + form(query).get("warehouse"));
            }
            return ConfigResponse.builder().withOverrides(new HashMap<>()).withOverride("prefix", "wh").build();
        }
        String[] part = route.split("/");   // wh/namespaces[/<ns>[/tables[/<table>]]]
        var mapper = RESTObjectMapper.mapper();
        if (part.length == 2 && part[1].equals("namespaces") && method.equals("POST")) {
            return CatalogHandlers.createNamespace(backend, mapper.readValue(body, CreateNamespaceRequest.class));
        }
        if (part.length == 3 && part[1].equals("namespaces")) {
            Namespace namespace = RESTUtil.decodeNamespace(part[2]);
            if (method.equals("HEAD")) {
                CatalogHandlers.namespaceExists(backend, namespace);
                return null;
            }
            return CatalogHandlers.loadNamespace(backend, namespace);
        }
        if (part.length == 4 && part[3].equals("tables") && method.equals("POST")) {
            return CatalogHandlers.createTable(backend, RESTUtil.decodeNamespace(part[2]),
                mapper.readValue(body, CreateTableRequest.class));
        }
        if (part.length == 5 && part[3].equals("tables")) {
            TableIdentifier table = TableIdentifier.of(RESTUtil.decodeNamespace(part[2]), RESTUtil.decodeString(part[4]));
            if (method.equals("HEAD")) {
                CatalogHandlers.tableExists(backend, table);
                return null;
            }
            return CatalogHandlers.loadTable(backend, table);
        }
        throw new NoSuchNamespaceException("no route %s %s", method, route);
    }

    private static Map<String, String> form(String text) {
        Map<String, String> found = new HashMap<>();
        for (String pair : text.split("&")) {
            String[] kv = pair.split("=", 2);
            if (kv.length == 2) {
                found.put(URLDecoder.decode(kv[0], StandardCharsets.UTF_8), URLDecoder.decode(kv[1], StandardCharsets.UTF_8));
            }
        }
        return found;
    }

    private static ErrorResponse error(int code, String type, String message) {
        return ErrorResponse.builder().responseCode(code).withType(type).withMessage(message).build();
    }
}
