package server

import (
	"context"
	"errors"

	"connectrpc.com/connect"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/cairnkv/cairn/modules/rpcerr"
)

// Cairn's built-in interceptors, one per transport and kind, kept to a few
// counter increments and error mapping on failure (the HTTP middleware sets
// the version header of Connect and gRPC-Web responses). Config.Interceptors
// run after them.

// unaryInterceptor is the outermost grpc-go unary interceptor.
//
// gRPC responses carry no version header (HTTP responses do, and /version
// reports it): grpc.SetHeader costs an allocation per call (about 5% of the
// bytes a put allocates, 8% of a KeepAliveOnce stream's), and the client
// decodes the header into metadata on every call.
func (s *Server) unaryInterceptor(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	m := methodMetricsFor(info.FullMethod, typeUnary)
	m.started.Inc()
	m.received.Inc()
	resp, err := handler(ctx, req)
	if err != nil {
		err = grpcError(err)
		m.done(grpcCode(err))
		return resp, err
	}
	m.sent.Inc()
	m.handled[codes.OK].Inc()
	return resp, nil
}

// streamInterceptor is the outermost grpc-go stream interceptor.
func (s *Server) streamInterceptor(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	typ := typeBidiStream
	switch {
	case !info.IsClientStream:
		typ = typeServerStream
	case !info.IsServerStream:
		typ = typeClientStream
	}
	m := methodMetricsFor(info.FullMethod, typ)
	m.started.Inc()
	err := handler(srv, &countingServerStream{ServerStream: ss, m: m})
	if err != nil {
		err = grpcError(err)
		m.done(grpcCode(err))
		return err
	}
	m.handled[codes.OK].Inc()
	return nil
}

type countingServerStream struct {
	grpc.ServerStream
	m *methodMetrics
}

func (c *countingServerStream) RecvMsg(msg any) error {
	err := c.ServerStream.RecvMsg(msg)
	if err == nil {
		c.m.received.Inc()
	}
	return err
}

func (c *countingServerStream) SendMsg(msg any) error {
	err := c.ServerStream.SendMsg(msg)
	if err == nil {
		c.m.sent.Inc()
	}
	return err
}

// grpcError returns the *rpcerr.Error inside err, if any, so that grpc-go sends
// etcd's exact message: for a wrapped error grpc-go would send the whole
// err.Error() text, and clientv3 matches errors by message.
func grpcError(err error) error {
	if e := rpcerr.As(err); e != nil {
		return e
	}
	return err
}

// grpcCode is the code grpc-go sends for a handler's error.
func grpcCode(err error) codes.Code {
	if e, ok := err.(*rpcerr.Error); ok {
		return e.Code
	}
	if st, ok := status.FromError(err); ok {
		return st.Code()
	}
	return status.FromContextError(err).Code()
}

// connectError turns a service core's error into the *connect.Error with the
// code and message grpc-go would send for it. Connect codes equal gRPC codes.
func connectError(err error) error {
	if e := rpcerr.As(err); e != nil {
		return connect.NewError(connect.Code(e.Code), errors.New(e.Msg))
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	if st, ok := status.FromError(err); ok && st.Code() != codes.OK {
		return connect.NewError(connect.Code(st.Code()), errors.New(st.Message()))
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, err)
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, err)
	}
	return connect.NewError(connect.CodeUnknown, err)
}

// connectInterceptor is the outermost connect-go interceptor: metrics and
// error mapping (the X-Cairn-Version header is set by the HTTP middleware).
type connectInterceptor struct{}

func (connectInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		m := methodMetricsFor(req.Spec().Procedure, typeUnary)
		m.started.Inc()
		m.received.Inc()
		resp, err := next(ctx, req)
		if err != nil {
			err = connectError(err)
			m.done(codes.Code(connect.CodeOf(err)))
			return resp, err
		}
		m.sent.Inc()
		m.handled[codes.OK].Inc()
		return resp, nil
	}
}

func (connectInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (connectInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		spec := conn.Spec()
		m := methodMetricsFor(spec.Procedure, connectStreamType(spec.StreamType))
		m.started.Inc()
		err := next(ctx, &countingHandlerConn{StreamingHandlerConn: conn, m: m})
		if err != nil {
			err = connectError(err)
			m.done(codes.Code(connect.CodeOf(err)))
			return err
		}
		m.handled[codes.OK].Inc()
		return nil
	}
}

type countingHandlerConn struct {
	connect.StreamingHandlerConn
	m *methodMetrics
}

func (c *countingHandlerConn) Receive(msg any) error {
	err := c.StreamingHandlerConn.Receive(msg)
	if err == nil {
		c.m.received.Inc()
	}
	return err
}

func (c *countingHandlerConn) Send(msg any) error {
	err := c.StreamingHandlerConn.Send(msg)
	if err == nil && msg != nil {
		c.m.sent.Inc()
	}
	return err
}
