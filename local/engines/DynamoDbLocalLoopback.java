import java.lang.reflect.Field;

/**
 * Starts DynamoDB Local listening on 127.0.0.1 only. Its own main (ServerRunner) has no -host option and Jetty then
 * listens on every interface, which would put the local tables (customer data, API key hashes) on the network with
 * no authentication. Run in source-file mode (Java 11+) with DynamoDBLocal.jar on the class path and the same
 * arguments as the jar: it builds the server the jar would build, moves its connectors to the loopback address
 * before they bind, then starts it. Reflection only, so it compiles against the JDK alone.
 */
public final class DynamoDbLocalLoopback {
  public static void main(String[] args) throws Exception {
    String host = System.getProperty("buzzer.dynamodb.host", "127.0.0.1");
    Class<?> runner = Class.forName("com.amazonaws.services.dynamodbv2.local.main.ServerRunner");
    Object proxy = runner.getMethod("createServerFromCommandLineArgs", String[].class).invoke(null, (Object) args);
    Field field = proxy.getClass().getDeclaredField("server");
    field.setAccessible(true);
    Object server = field.get(proxy);
    Object[] connectors = (Object[]) server.getClass().getMethod("getConnectors").invoke(server);
    if (connectors.length == 0) {
      throw new IllegalStateException("DynamoDB Local has no connector to bind to " + host);
    }
    for (Object connector : connectors) {
      connector.getClass().getMethod("setHost", String.class).invoke(connector, host);
    }
    proxy.getClass().getMethod("start").invoke(proxy);
  }
}
